#!/usr/bin/env bash
# Allocations the core makes per ping and per mediation, checked against thresholds (issue 18,
# "guard the numbers", as swift-nio's allocation-counter tests do). A benchmark, not a test:
# counts, never times; exits 1 when a count is above its threshold.
#
# Benchmarks/alloc/malloc_count.c is LD_PRELOAD'ed into linkcored and counts its calls to the C
# allocator (Swift objects, arrays, strings and NIO buffers all end there) in a file mapped shared;
# this script reads the counters around each phase:
#   pings       c/loadgen (run-transport.sh's client) on one connection, 1 and 64 in flight,
#               after a warm-up; allocations / pings answered
#   mediations  mediation-bench in its allocation mode (1, 16, 256 requesters, the core's own
#               table): allocations / mediations answered in the phase
#
#   Benchmarks/run-alloc-counts.sh                      # .build/release (swift build -c release first)
#   BENCH_BIN_DIR=DIR  linkcored, linkctl and mediation-bench (default .build/release)
#   BENCH_BEFORE_BIN_DIR=DIR  the same from an earlier build: its counts side by side (no thresholds)
#   BENCH_SECONDS (2)  per phase
#   MAX_ALLOCS_PING_1 / MAX_ALLOCS_PING_64 / MAX_ALLOCS_MED_1 / MAX_ALLOCS_MED_16 / MAX_ALLOCS_MED_256
#                      the thresholds (defaults below: the counts measured when they were set,
#                      plus headroom; lower them when a change lowers the counts)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
# shellcheck source=linkcored-config.sh
. "$HERE/linkcored-config.sh"
BIN=${BENCH_BIN_DIR:-$ROOT/.build/release}
BEFORE=${BENCH_BEFORE_BIN_DIR:-}
SECS=${BENCH_SECONDS:-2}
# Set from main at 5594c6b (2026-12-07: 20.3 and 6.3 per ping, ~165 per mediation at 16 and 256
# requesters) plus about 10 %; the one-requester figure is an estimate (1.2 x the 16-requester
# count, as run-mediation-counts.sh measured it). Lower them once a change's counts are measured.
declare -A MAX=(
    [ping1]=${MAX_ALLOCS_PING_1:-23} [ping64]=${MAX_ALLOCS_PING_64:-7}
    [med1]=${MAX_ALLOCS_MED_1:-230} [med16]=${MAX_ALLOCS_MED_16:-185} [med256]=${MAX_ALLOCS_MED_256:-185}
)
ORG=BENCH01
WORK=$(mktemp -d "${TMPDIR:-/tmp}/linkcore-alloc.XXXXXX")
PIDS=()

say() { printf '==> %s\n' "$*" >&2; }
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT

say "building the allocation counter and the load generator (gcc -O2)"
mkdir -p "$WORK/c"
gcc -O2 -Wall -shared -fPIC -o "$WORK/c/malloc_count.so" "$HERE/alloc/malloc_count.c"
PROTO="$ROOT/sdk/c/generated"
gcc -O2 -Wall -I"$PROTO" -o "$WORK/c/loadgen" "$HERE/c/loadgen.c" "$PROTO"/linkcore/v1/*.pb-c.c \
    -lprotobuf-c -lssl -lcrypto -lpthread
for f in linkcored linkctl mediation-bench; do
    [[ -x "$BIN/$f" ]] || { echo "error: $BIN/$f is missing (swift build -c release)" >&2; exit 2; }
done

PKI="$WORK/pki"
"$BIN/linkctl" pki init --dir "$PKI" >/dev/null
"$BIN/linkctl" pki issue --dir "$PKI" --org "$ORG" --name Bench >/dev/null
TLS=(--ca "$PKI/ca.pem" --cert "$PKI/orgs/$ORG.pem" --key "$PKI/orgs/$ORG.key")

counters() { od -An -t u8 -N 32 -v "$1" | tr -s ' \n' ' '; }  # allocs frees reallocs bytes

declare -A RESULT
measure_side() { # side bin-dir
    local side=$1 dir=$2 port pid counts="$WORK/$1.counts" before after out n
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    bench_linkcored_config "$WORK/$side" "$port" "$PKI" bench
    say "$side: linkcored ($dir) with the counter, pings"
    LD_PRELOAD="$WORK/c/malloc_count.so" LINKCORE_ALLOC_COUNTS="$counts" \
        "$dir/linkcored" --config "$WORK/$side/linkcored.toml" >"$WORK/$side.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    "$dir/linkctl" org add --socket "$WORK/$side/admin.sock" --code "$ORG" --name Bench >/dev/null
    "$WORK/c/loadgen" --host 127.0.0.1 --port "$port" "${TLS[@]}" --connections 1 --in-flight 64 \
        --seconds 1 --warmup 0 >/dev/null  # warm-up: caches, metadata, pools
    for inflight in 1 64; do
        before=$(counters "$counts")
        out=$("$WORK/c/loadgen" --host 127.0.0.1 --port "$port" "${TLS[@]}" --connections 1 \
            --in-flight "$inflight" --seconds "$SECS" --warmup 0)
        after=$(counters "$counts")
        n=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$out")
        RESULT[$side/ping$inflight]=$(awk -v a="$before" -v b="$after" -v n="$n" 'BEGIN {
            split(a, x, " "); split(b, y, " "); printf "%.2f %.0f", (y[1] - x[1]) / n, (y[4] - x[4]) / n }')
    done
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    say "$side: mediation-bench (allocation mode)"
    # The bench runs this side's linkcored: it starts the one beside itself.
    mkdir -p "$WORK/$side-bin"
    ln -sf "$(cd "$BIN" && pwd)/mediation-bench" "$WORK/$side-bin/mediation-bench"
    ln -sf "$(cd "$dir" && pwd)/linkcored" "$WORK/$side-bin/linkcored"
    LD_PRELOAD="$WORK/c/malloc_count.so" LINKCORE_ALLOC_COUNTS="$WORK/$side-med.counts" \
        "$WORK/$side-bin/mediation-bench" "$SECS" 200 >"$WORK/$side-med.out" 2>"$WORK/$side-med.err" ||
        { tail -5 "$WORK/$side-med.err" >&2; exit 2; }
    while read -r level _ allocs _ bytes; do
        RESULT[$side/med$level]="$allocs $bytes"
    done < <(awk -F'|' 'NF == 5 && $1 ~ /^ *[0-9]+ *$/' "$WORK/$side-med.out" | tr -d '|')  # the allocation mode's rows
}

[[ -n "$BEFORE" ]] && measure_side before "$BEFORE"
measure_side after "$BIN"

printf '\nallocations per request in linkcored (%s s per phase, %s)\n' "$SECS" "$(date -u +%F)"
printf '%-22s | %12s | %12s | %9s | %s\n' "phase" "before" "allocs" "threshold" "bytes/request (before -> now)"
status=0
for key in ping1 ping64 med1 med16 med256; do
    case $key in ping1) label="ping, 1 in flight" ;; ping64) label="ping, 64 in flight" ;; *) label="mediation, ${key#med} req." ;; esac
    read -r now bytes <<<"${RESULT[after/$key]:-n/a 0}"
    read -r was wasbytes <<<"${RESULT[before/$key]:--- -}"
    verdict=ok
    if [[ $now == n/a ]] || awk -v n="$now" -v m="${MAX[$key]}" 'BEGIN { exit !(n > m) }'; then verdict=FAIL; status=1; fi
    printf '%-22s | %12s | %12s | %9s | %s -> %s  %s\n' "$label" "$was" "$now" "${MAX[$key]}" "$wasbytes" "$bytes" "$verdict"
done
exit $status
