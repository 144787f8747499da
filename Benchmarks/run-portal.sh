#!/usr/bin/env bash
# The portal's access-log page under wrk (issue 15 item 10, first half): a resident with 1,000
# entries, GET /log vs a static page of the same size from the same Hummingbird server (TLS and
# headers included), in the same run; prints a table and the ratio. Also /home logged in (one
# durable session write per view) vs / without a session. A benchmark, not a test.
#
#   Benchmarks/run-portal.sh [ENTRIES]        BENCH_SECONDS=10 BENCH_CONNECTIONS=16
#
# Needs wrk (Debian: apt-get install wrk; scripts/deps.sh installs it). The login round trip
# (the other half of item 10) waits for the card login slice.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk (or scripts/deps.sh)" >&2; exit 1; }
BIN=${BENCH_BIN_DIR:-$ROOT/.build/release}
if [[ -z "${BENCH_BIN_DIR:-}" ]]; then
    (cd "$ROOT" && swift build -c release --product portal-bench && swift build -c release --product linkcored \
        && swift build -c release --product linkcore-portal)
fi
exec "$BIN/portal-bench" "${1:-1000}"
