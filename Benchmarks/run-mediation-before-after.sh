#!/usr/bin/env bash
# Mediation throughput and latency before and after a change, from one run: the release
# `mediation-bench` of an older build (with its own linkcored beside it) and of this build are
# run alternately, BENCH_ROUNDS times each, and the median round of each is compared
# (after ÷ before, per number of concurrent requesters). Each bench also prints its own ratio
# against direct A→B over mutual TLS, measured in the same bench run. Rounds alternate which side
# goes first. A benchmark, not a test.
#
#   Benchmarks/run-mediation-before-after.sh BEFORE_BIN_DIR [AFTER_BIN_DIR]
#     BEFORE_BIN_DIR: e.g. the release folder of a build of the previous commit
#     AFTER_BIN_DIR:  default .build/release of this checkout (built if missing)
#   BENCH_ROUNDS=3  BENCH_SECONDS=3
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BEFORE=${1:?usage: $0 BEFORE_BIN_DIR [AFTER_BIN_DIR]}
AFTER=${2:-$ROOT/.build/release}
ROUNDS=${BENCH_ROUNDS:-3}
SECONDS_PER_RUN=${BENCH_SECONDS:-3}
[[ -x "$AFTER/mediation-bench" ]] || (cd "$ROOT" && swift build -c release --product mediation-bench && swift build -c release)
OUT=$(mktemp -d "${TMPDIR:-/tmp}/mediation-ba.XXXXXX")
for ((round = 1; round <= ROUNDS; round++)); do
    # ABBA order: neither side always runs second (a warm page cache, a WAL left by the other).
    sides="before after"; ((round % 2 == 0)) && sides="after before"
    for side in $sides; do
        dir=$BEFORE; [[ $side == after ]] && dir=$AFTER
        echo "round $round/$ROUNDS: $side ($dir)" >&2
        "$dir/mediation-bench" "$SECONDS_PER_RUN" > "$OUT/$side.$round" 2> "$OUT/$side.$round.log"
    done
done
python3 - "$OUT" "$ROUNDS" <<'PY'
import sys, statistics
out, rounds = sys.argv[1], int(sys.argv[2])
def table(path):
    rows = {}
    for line in open(path):
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 10 and cells[0].isdigit():   # the built-in table's rows only
            rows[int(cells[0])] = dict(rate=float(cells[1]), p50=float(cells[2]), p99=float(cells[3]),
                                       cpu=float(cells[5]), direct=float(cells[6]), ratio=float(cells[9]))
    return rows
sides = {s: [table(f"{out}/{s}.{r}") for r in range(1, rounds + 1)] for s in ("before", "after")}
print(f"mediations through linkcored, before vs after, median of {rounds} interleaved rounds")
print("requesters | before /s | after /s | after÷before | before ÷direct | after ÷direct | p99 µs before | p99 µs after | core CPU µs/med before | after")
for level in sorted(sides["after"][0]):
    def med(side, key):
        return statistics.median(t[level][key] for t in sides[side] if level in t)
    b, a = med("before", "rate"), med("after", "rate")
    print(f"{level:10d} | {b:9.0f} | {a:8.0f} | {a / b:12.3f} | {med('before', 'ratio'):14.3f} | {med('after', 'ratio'):13.3f} | "
          f"{med('before', 'p99'):13.0f} | {med('after', 'p99'):12.0f} | {med('before', 'cpu'):22.0f} | {med('after', 'cpu'):5.0f}")
PY
echo "raw outputs: $OUT" >&2
