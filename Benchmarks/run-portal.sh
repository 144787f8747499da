#!/usr/bin/env bash
# The portal's access-log page under wrk (issue 15 item 10, first half): a resident with 1,000
# entries, GET /log vs a static page of the same size from the same Hummingbird server (TLS and
# headers included), in the same run; prints a table and the ratio. Also /home logged in (one
# durable session write per view) vs / without a session. A benchmark, not a test.
#
#   Benchmarks/run-portal.sh [ENTRIES]        BENCH_SECONDS=10 BENCH_CONNECTIONS=16
#   Benchmarks/run-portal.sh login            BENCH_LOGINS=200: the card login round trip (item 10,
#       second half; Benchmarks/portal-login.py says exactly what is measured) against the demo's
#       run/ made by ./scripts/run.sh (its card, account and card authority; the demo may be
#       running or not, the OCSP responder on 8600 must be). BENCH_BIN_DIR as below.
#
# Needs wrk (Debian: apt-get install wrk; scripts/deps.sh installs it).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk (or scripts/deps.sh)" >&2; exit 1; }
BIN=${BENCH_BIN_DIR:-$ROOT/.build/release}
if [[ "${1:-}" == login ]]; then
    [[ -n "${BENCH_BIN_DIR:-}" ]] || (cd "$ROOT" && swift build -c release --product linkcore-portal && swift build -c release --product linkcore-card)
    exec /usr/bin/python3 "$HERE/portal-login.py" "$ROOT/run" "$BIN"
fi
if [[ -z "${BENCH_BIN_DIR:-}" ]]; then
    (cd "$ROOT" && swift build -c release --product portal-bench && swift build -c release --product linkcored \
        && swift build -c release --product linkcore-portal)
fi
exec "$BIN/portal-bench" "${1:-1000}"
