#!/usr/bin/env bash
# Crash loops (issue 17, item 3; docs/reliability.md): starts a network (linkcored, the matcher,
# the adapters of CITY01, PENSION01 and BANK01) in a temporary directory, puts mixed load on it
# (mediations, link requests, change events and their acknowledgement, metered mediations), and N
# times kill -9s one of its processes at a random moment, restarts it, times it to READY=1 and
# checks from outside (SQLite read-only or psql, linkctl) that no acknowledged operation was lost or
# duplicated. One line per cycle, then a summary; exits 1 on a violated invariant (printed),
# 2 when the network could not be started or did not come back.
#   usage: crash-loop.sh N [--seed S] [--release] [--keep] [--dir DIR] [--postgres]
# --postgres: two linkcored nodes on a private PostgreSQL server (scripts/crash_loop_pg.py).
# Debug binaries by default (built if missing, incrementally), --release for the release build.
# BIN_DIR= uses binaries built elsewhere. The driver is scripts/crash_loop.py.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,12p' "$0"; exit 64; }

config=debug; args=()
for arg in "$@"; do
    if [ "$arg" = --release ]; then config=release; else args+=("$arg"); fi
done
if [ -z "${BIN_DIR:-}" ]; then
    for product in linkcored linkctl linkcore-matcher linkcore-adapter \
                   linkcore-policy-whitelist linkcore-policy-fees; do
        swift build -c "$config" --product "$product" >/dev/null
    done
    BIN_DIR="$(swift build -c "$config" --show-bin-path)"
fi
exec python3 scripts/crash_loop.py --bin "$BIN_DIR" "${args[@]}"
