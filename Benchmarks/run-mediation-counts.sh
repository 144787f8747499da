#!/usr/bin/env bash
# Work per mediation in the core, before and after a change: mallocs, Swift object allocations,
# retains, task creations, task switches and CPU time per mediation, counted with perf uprobes in
# the core during each level's phase (Benchmarks/mediation/EventCounts.swift). Unlike requests
# per second, these counts barely move with the machine's load, so they can answer "does the
# core do more per mediation?" on a busy machine. Counts still move a little with batching: a
# level that batches more does less per mediation; compare medians of several rounds.
#
# The same driver (this checkout's mediation-bench) runs both cores: each side is a folder of
# links to its build's files with this mediation-bench copied in, since the bench starts the
# linkcored beside itself. Needs root (uprobes). A benchmark, not a test.
#
#   Benchmarks/run-mediation-counts.sh BEFORE_BIN_DIR [AFTER_BIN_DIR]    BENCH_ROUNDS=2 BENCH_SECONDS=3
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BEFORE=${1:?usage: $0 BEFORE_BIN_DIR [AFTER_BIN_DIR]}
AFTER=${2:-$ROOT/.build/release}
ROUNDS=${BENCH_ROUNDS:-2}
SECONDS_PER_RUN=${BENCH_SECONDS:-3}
DRIVER=$ROOT/.build/release/mediation-bench
[[ -x "$DRIVER" ]] || (cd "$ROOT" && swift build -c release --product mediation-bench)
[[ -x "$AFTER/linkcored" ]] || (cd "$ROOT" && swift build -c release)
SWIFT_LIB=$(dirname "$(ldd "$AFTER/linkcored" | awk '/libswiftCore.so/ {print $3}')")
LIBC=$(ldd "$AFTER/linkcored" | awk '/libc.so.6/ {print $3}')
for probe in "$LIBC malloc" "$SWIFT_LIB/libswiftCore.so swift_allocObject" "$SWIFT_LIB/libswiftCore.so swift_retain" \
             "$SWIFT_LIB/libswift_Concurrency.so swift_task_create" "$SWIFT_LIB/libswift_Concurrency.so swift_task_switch"; do
    set -- $probe
    perf probe -q -x "$1" "$2" 2>/dev/null || true   # already there from an earlier run: fine
done
export BENCH_COUNT_EVENTS=task-clock,probe_libc:malloc,probe_libswiftCore:swift_allocObject,probe_libswiftCore:swift_retain,probe_libswift_Concurrency:swift_task_create,probe_libswift_Concurrency:swift_task_switch
OUT=$(mktemp -d "${TMPDIR:-/tmp}/mediation-counts.XXXXXX")
for side in before after; do
    src=$BEFORE; [[ $side == after ]] && src=$AFTER
    mkdir "$OUT/$side.bin"
    for f in "$src"/*; do ln -s "$f" "$OUT/$side.bin/"; done
    rm "$OUT/$side.bin/mediation-bench"
    cp "$DRIVER" "$OUT/$side.bin/"
done
for ((round = 1; round <= ROUNDS; round++)); do
    sides="before after"; ((round % 2 == 0)) && sides="after before"
    for side in $sides; do
        echo "round $round/$ROUNDS: $side" >&2
        "$OUT/$side.bin/mediation-bench" "$SECONDS_PER_RUN" > "$OUT/$side.$round" 2> "$OUT/$side.$round.log"
    done
done
python3 - "$OUT" "$ROUNDS" <<'PY'
import sys, statistics
out, rounds = sys.argv[1], int(sys.argv[2])
def table(path):
    lines = [l for l in open(path) if "|" in l]
    names = [c.strip() for c in lines[0].split("|")[2:]]
    names[0] = names[0].replace("per mediation: ", "")
    rows = {}
    for line in lines[1:]:
        cells = [c.strip() for c in line.split("|")]
        if cells[0].isdigit():
            rows[int(cells[0])] = dict(zip(names, map(float, cells[2:])))
    return names, rows
runs = {s: [table(f"{out}/{s}.{r}") for r in range(1, rounds + 1)] for s in ("before", "after")}
names = runs["after"][0][0]
print(f"core work per mediation, median of {rounds} interleaved rounds (task-clock in µs): before -> after (after/before)")
print("requesters | " + " | ".join(names))
for level in sorted(runs["after"][0][1]):
    def med(side, name): return statistics.median(r[1][level][name] for r in runs[side] if level in r[1])
    print(f"{level:10d} | " + " | ".join(f"{med('before', n):.1f} -> {med('after', n):.1f} ({med('after', n) / max(med('before', n), 1e-9):.2f})" for n in names))
PY
echo "raw outputs: $OUT" >&2
