#!/usr/bin/env bash
# linkcore transport benchmark: linkcored ping round trips against two baselines built and run
# in the same run (a C + OpenSSL + protobuf-c echo server, and a grpc-swift-2 unary echo), in
# three shapes, printed as a table with ratios. A benchmark, not a test: nothing here asserts
# on time. See Benchmarks/README.md.
#
# Environment:
#   BENCH_SECONDS=5        measured seconds per shape
#   BENCH_WARMUP=1         warm-up seconds per shape (not measured)
#   BENCH_SHAPES="a b c"   which shapes to run
#   BENCH_ROUNDS=1         rounds per shape and server (interleaved); the table shows the
#                          median round by rps
#   BENCH_SERVERS="linkcored c grpc"   which servers to run
#   BENCH_LINKCORED_BEFORE=FILE   also run this (older) linkcored binary, as column
#                          "linkcored-before", with the same config, PKI and client: a before/after
#                          comparison in one run (e.g. a release build of the previous commit)
#   BENCH_LC_BIN=DIR       use the prebuilt linkctl and linkcored in DIR instead of building them
#   BENCH_GRPC_BIN=FILE    use this prebuilt gRPC baseline binary instead of building it
#   BENCH_PKI_DIR=DIR      use this existing PKI (linkctl layout) instead of making one
#   BENCH_KEEP=1           keep the temporary directory (logs, config, PKI)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
# shellcheck source=linkcored-config.sh
. "$HERE/linkcored-config.sh"
MEASURE=${BENCH_SECONDS:-5}
WARMUP=${BENCH_WARMUP:-1}
SHAPES=${BENCH_SHAPES:-"a b c"}
ROUNDS_WANTED=${BENCH_ROUNDS:-1}
SERVERS=${BENCH_SERVERS:-"linkcored c grpc"}
BEFORE_BIN=${BENCH_LINKCORED_BEFORE:-}
if [[ -n "$BEFORE_BIN" && " $SERVERS " != *" linkcored-before "* ]]; then
    SERVERS="linkcored-before $SERVERS"
fi
ORG=BENCH01

LOAD_PID=""
WORK=$(mktemp -d "${TMPDIR:-/tmp}/linkcore-bench.XXXXXX")
PIDS=()

say() { printf '==> %s\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local pid
    [[ -n "${LOAD_PID:-}" ]] && stop_pid "$LOAD_PID"
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    PIDS=()
    if [[ -n "${BENCH_KEEP:-}" ]]; then
        note "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

shape_args() { # connections in-flight
    case $1 in
        a) echo "1 1" ;;
        b) echo "1 64" ;;
        c) echo "64 1" ;;
        *) echo "unknown shape $1" >&2; exit 2 ;;
    esac
}
shape_label() {
    case $1 in
        a) echo "a: 1 conn x 1" ;;
        b) echo "b: 1 conn x 64" ;;
        c) echo "c: 64 conn x 1" ;;
    esac
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $((20000 + RANDOM % 30000))
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Wait for "listening port=N" on a server's stdout; prints N.
wait_listening() { # pid logfile seconds
    local pid=$1 log=$2 tries=$(($3 * 10)) port
    while ((tries-- > 0)); do
        port=$(sed -n 's/^listening port=\([0-9]*\).*/\1/p' "$log" 2>/dev/null | head -1)
        if [[ -n "$port" ]]; then echo "$port"; return 0; fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
say "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); ${MEASURE}s + ${WARMUP}s warm-up per shape"
if awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v n="$(nproc)" 'BEGIN { exit !(l > n * 0.5) }'; then
    note "warning: the machine is busy; figures will be noisy and low"
fi

CBIN="$HERE/.build/c"
say "building C echo server and load generator (gcc -O2)"
mkdir -p "$CBIN"
PROTO="$ROOT/sdk/c/generated"
for prog in echo_server loadgen; do
    gcc -O2 -Wall -I"$PROTO" -o "$CBIN/$prog" "$HERE/c/$prog.c" "$PROTO"/linkcore/v1/*.pb-c.c \
        -lprotobuf-c -lssl -lcrypto -lpthread
done

GRPC_BIN="${BENCH_GRPC_BIN:-}"   # a prebuilt grpc-echo-bench (its first build takes long)
if [[ -n "$GRPC_BIN" ]]; then
    say "gRPC baseline: using prebuilt $GRPC_BIN"
elif [[ " $SERVERS " == *" grpc "* ]]; then
    say "building gRPC baseline (swift build -c release, Benchmarks/GRPCBaseline)"
    if swift build -c release --package-path "$HERE/GRPCBaseline" >"$WORK/grpc-build.log" 2>&1; then
        GRPC_BIN="$(swift build -c release --package-path "$HERE/GRPCBaseline" --show-bin-path)/grpc-echo-bench"
    else
        note "gRPC baseline failed to build (tail of log below); its column will be n/a"
        tail -20 "$WORK/grpc-build.log" >&2
    fi
fi

HAVE_LINKCTL=0 HAVE_LINKCORED=0
NEED_LINKCTL=0 NEED_LINKCORED=0
[[ -z "${BENCH_PKI_DIR:-}" ]] && NEED_LINKCTL=1
[[ " $SERVERS " == *" linkcored "* ]] && NEED_LINKCORED=1
[[ " $SERVERS " == *" linkcored-"* ]] && NEED_LINKCTL=1   # linkctl org add registers the bench org
if [[ -n "${BENCH_LC_BIN:-}" ]]; then
    LC_BIN=$(cd "$BENCH_LC_BIN" && pwd)
    say "linkcore: using prebuilt $LC_BIN"
    [[ -x "$LC_BIN/linkctl" ]] && HAVE_LINKCTL=1
    [[ -x "$LC_BIN/linkcored" ]] && HAVE_LINKCORED=1
elif ((NEED_LINKCTL || NEED_LINKCORED)); then
    say "building linkcore (swift build -c release: linkctl, linkcored)"
    LC_BIN="$(cd "$ROOT" && swift build -c release --show-bin-path)"
    for product in linkctl linkcored; do
        [[ $product == linkctl ]] && ((!NEED_LINKCTL)) && continue
        [[ $product == linkcored ]] && ((!NEED_LINKCORED)) && continue
        if (cd "$ROOT" && swift build -c release --product "$product") >"$WORK/$product-build.log" 2>&1; then
            [[ $product == linkctl ]] && HAVE_LINKCTL=1 || HAVE_LINKCORED=1
        else
            note "$product failed to build (tail of log below)"
            tail -20 "$WORK/$product-build.log" >&2
        fi
    done
fi

if [[ -n "${BENCH_PKI_DIR:-}" ]]; then
    PKI=$(cd "$BENCH_PKI_DIR" && pwd)
    say "using PKI in $PKI"
else
    PKI="$WORK/pki"
    say "creating PKI with linkctl pki (org $ORG)"
    if ((!HAVE_LINKCTL)); then
        echo "error: linkctl is needed to make the PKI (or set BENCH_PKI_DIR)" >&2
        exit 1
    fi
    "$LC_BIN/linkctl" pki init --dir "$PKI" >"$WORK/pki.log" 2>&1 &&
        "$LC_BIN/linkctl" pki issue --dir "$PKI" --org "$ORG" --name Bench >>"$WORK/pki.log" 2>&1 || {
        echo "error: linkctl pki failed:" >&2
        cat "$WORK/pki.log" >&2
        exit 1
    }
fi
for f in ca.pem server.pem server.key crl.pem "orgs/$ORG.pem" "orgs/$ORG.key"; do
    [[ -f "$PKI/$f" ]] || { echo "error: $PKI/$f is missing" >&2; exit 1; }
done
CLIENT_TLS=(--ca "$PKI/ca.pem" --cert "$PKI/orgs/$ORG.pem" --key "$PKI/orgs/$ORG.key")

declare -A RESULT  # RESULT[server/shape] = "rps p50 p99 errors" (median round by rps) or "n/a"
declare -A ROUNDS  # ROUNDS[server/shape] = one "rps p50 p99 errors" line per successful round
declare -A PORT    # PORT[server] = where it listens, once it has started
declare -A LOADER  # LOADER[server] = the client command for it
declare -A RPS     # RPS[server/shape/round] = that round's rps, for ratios of the same round

run_one() { # server shape round
    local name=$1 shape=$2 round=$3 line c n out
    read -r c n < <(shape_args "$shape")
    out="$WORK/$name-$shape-$round.out"
    # In the background so that a signal to this script is handled at once (wait returns).
    # shellcheck disable=SC2086 # LOADER holds a command and its first argument
    ${LOADER[$name]} --host 127.0.0.1 --port "${PORT[$name]}" "${CLIENT_TLS[@]}" \
        --connections "$c" --in-flight "$n" --seconds "$MEASURE" --warmup "$WARMUP" \
        >"$out" 2>>"$WORK/$name-load.log" &
    LOAD_PID=$!
    if wait "$LOAD_PID" && line=$(head -1 "$out") && [[ "$line" == rps=* ]]; then
        LOAD_PID=""
        note "$name $(shape_label "$shape") round $round: $line"
        RPS[$name/$shape/$round]=$(sed -n 's/^rps=\([0-9.]*\).*/\1/p' <<<"$line")
        ROUNDS[$name/$shape]+=$(awk '{
            for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            print v["rps"], v["p50_us"], v["p99_us"], v["errors"] }' <<<"$line")$'\n'
    else
        LOAD_PID=""
        line=$(head -1 "$out" 2>/dev/null || true)
        note "$name $(shape_label "$shape") round $round: failed ${line:-} (see $name-load.log)"
        tail -5 "$WORK/$name-load.log" >&2 || true
    fi
}

# --- servers: all started first, then measured shape by shape, interleaved ---------------------
# Interleaving puts each shape's columns close together in time, so that a change in the
# machine's load (other builds on shared cores) moves every column of a row alike.
start_linkcored() { # column-name binary
    local name=$1 bin=$2 port pid up dir=$WORK/$1
    port=$(free_port)
    bench_linkcored_config "$dir" "$port" "$PKI" bench
    say "$name: starting $bin on 127.0.0.1:$port"
    "$bin" --config "$dir/linkcored.toml" >"$WORK/$name.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    up=0
    for _ in $(seq 300); do
        if ! kill -0 "$pid" 2>/dev/null; then break; fi
        if port_open "$port"; then up=1; break; fi
        sleep 0.1
    done
    if ((up)) && ! "$LC_BIN/linkctl" org add --socket "$dir/admin.sock" --code "$ORG" --name Bench >>"$WORK/$name.log" 2>&1; then
        note "linkctl org add failed"
        up=0
    fi
    if ((up)); then
        PORT[$name]=$port LOADER[$name]="$CBIN/loadgen"
    else
        note "$name did not start listening; its column is n/a. Log tail:"
        tail -20 "$WORK/$name.log" >&2 || true
    fi
}

if [[ " $SERVERS " == *" linkcored-before "* ]]; then
    if [[ -x "$BEFORE_BIN" ]] && ((HAVE_LINKCTL)); then
        start_linkcored linkcored-before "$BEFORE_BIN"
    else
        note "linkcored-before: BENCH_LINKCORED_BEFORE is not an executable (or linkctl is missing); n/a"
    fi
fi
if [[ " $SERVERS " == *" linkcored "* ]]; then
    if ((HAVE_LINKCORED)); then
        start_linkcored linkcored "$LC_BIN/linkcored"
    else
        note "linkcored: not built; n/a"
    fi
fi
start_baseline() { # column label seconds-to-listen loader command...: a baseline server on port 0
    local name=$1 label=$2 wait=$3 loader=$4 pid port
    shift 4
    say "$label: starting"
    "$@" >"$WORK/$name.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    if port=$(wait_listening "$pid" "$WORK/$name.log" "$wait"); then
        PORT[$name]=$port LOADER[$name]=$loader
    else
        note "$label server did not start:"; tail -20 "$WORK/$name.log" >&2
    fi
}
if [[ " $SERVERS " == *" c "* ]]; then
    start_baseline c "C echo" 10 "$CBIN/loadgen" "$CBIN/echo_server" --port 0 --ca "$PKI/ca.pem" \
        --cert "$PKI/server.pem" --key "$PKI/server.key" --crl "$PKI/crl.pem"
fi
if [[ " $SERVERS " == *" grpc "* && -n "$GRPC_BIN" ]]; then
    start_baseline grpc "gRPC" 30 "$GRPC_BIN load" "$GRPC_BIN" serve --port 0 --ca "$PKI/ca.pem" \
        --cert "$PKI/server.pem" --key "$PKI/server.key"
fi

for shape in $SHAPES; do
    say "shape $(shape_label "$shape"): $ROUNDS_WANTED round(s) over ${!PORT[*]}"
    for round in $(seq "$ROUNDS_WANTED"); do
        # Odd rounds in one order, even rounds in the other: no column always goes first.
        order="linkcored-before linkcored c grpc"
        ((round % 2 == 0)) && order="grpc c linkcored linkcored-before"
        for server in $order; do
            [[ -n "${PORT[$server]:-}" ]] && run_one "$server" "$shape" "$round"
        done
    done
done
for key in "${!ROUNDS[@]}"; do
    # The median round by rps (the lower middle one for an even count).
    RESULT[$key]=$(sort -n <<<"${ROUNDS[$key]}" | sed '/^$/d' | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }')
done
for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
PIDS=()

# --- table ----------------------------------------------------------------------------------
cell() { # server shape -> "rps p50 p99"
    local r=${RESULT[$1/$2]:-n/a}
    if [[ "$r" == "n/a" ]]; then printf '%9s %6s %6s' n/a - -; return; fi
    read -r rps p50 p99 _ <<<"$r"
    printf '%9s %6s %6s' "$rps" "$p50" "$p99"
}
ratio() { # a b shape: the median over rounds of a's rps / b's rps in the same round
    local round a b list=""
    for round in $(seq "$ROUNDS_WANTED"); do
        a=${RPS[$1/$3/$round]:-} b=${RPS[$2/$3/$round]:-}
        [[ -n "$a" && -n "$b" ]] && list+="$a $b"$'\n'
    done
    if [[ -z "$list" ]]; then printf '%14s' n/a; return; fi
    awk '$2 > 0 { print $1 / $2 }' <<<"$list" | sort -g |
        awk '{ r[NR] = $1 } END { if (NR) printf "%14.3f", r[int((NR + 1) / 2)]; else printf "%14s", "n/a" }'
}

echo
printf 'linkcore transport benchmark: %ss per shape after %ss warm-up, %s cores, loopback, mTLS 1.3\n' \
    "$MEASURE" "$WARMUP" "$(nproc)"
printf 'rps = requests/s; p50/p99 = round-trip latency in microseconds\n'
if ((ROUNDS_WANTED > 1)); then
    printf '%s rounds per shape and server, interleaved: each cell is the median round by rps, each ratio\n' "$ROUNDS_WANTED"
    printf 'the median of the per-round ratios\n'
fi
echo
# One column per server that ran, then the ratios (rps) between the ones present.
has() { [[ " $SERVERS " == *" $1 "* ]]; }
label() { case $1 in c) echo "C" ;; linkcored-before) echo "before" ;; *) echo "$1" ;; esac; }
RAN=() RATIOS=()
for server in linkcored-before linkcored c grpc; do has "$server" && RAN+=("$server"); done
has linkcored && has c && RATIOS+=("linkcored c")
has linkcored-before && has c && RATIOS+=("linkcored-before c")
has linkcored && has linkcored-before && RATIOS+=("linkcored linkcored-before")
has linkcored && has grpc && RATIOS+=("linkcored grpc")
header=$(printf '%-16s' shape)
for server in "${RAN[@]}"; do
    header+=$(printf ' | %-23s' "$(case $server in c) echo "C echo" ;; *) label "$server" ;; esac) rps p50 p99")
done
for pair in "${RATIOS[@]}"; do
    read -r a b <<<"$pair"
    header+=$(printf ' | %14s' "$(label "$a")/$(label "$b")")
done
printf '%s\n%s\n' "$header" "$(printf '%.0s-' $(seq ${#header}))"
for shape in $SHAPES; do
    row=$(printf '%-16s' "$(shape_label "$shape")")
    for server in "${RAN[@]}"; do row+=" | $(cell "$server" "$shape")"; done
    for pair in "${RATIOS[@]}"; do
        read -r a b <<<"$pair"
        row+=" | $(ratio "$a" "$b" "$shape")"
    done
    printf '%s\n' "$row"
done
errs=""
for key in "${!RESULT[@]}"; do
    r=${RESULT[$key]}
    [[ "$r" == "n/a" ]] && continue
    e=${r##* }
    [[ "$e" != "0" ]] && errs+=" $key:$e"
done
if [[ -n "$errs" ]]; then echo; echo "errors (bad or missing replies):$errs"; fi
