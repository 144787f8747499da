#!/usr/bin/env bash
# Checks the systemd units: `systemd-analyze verify` (syntax, directives, referenced units and
# executables) and `systemd-analyze security` (sandbox exposure score).
#
# verify insists that ExecStart= exists. So that the check runs on a build or CI machine where
# linkcored is not installed, the units are copied to a temporary directory and ExecStart's
# /usr/local/bin/linkcored is pointed at a stub executable there; nothing else is changed, and the
# files in the repository are never modified. Set LINKCORED=/path/to/linkcored to verify against a
# real binary instead.
#
# Usage: scripts/check-units.sh [max-exposure]   (default 2.0; fails when the score is higher)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
max_exposure="${1:-2.0}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

binary="${LINKCORED:-}"
if [[ -z "$binary" ]]; then
    binary="$tmp/linkcored"
    printf '#!/bin/sh\nexit 0\n' >"$binary"
    chmod 0755 "$binary"
fi

for unit in linkcored.service linkcored.socket; do
    sed "s#/usr/local/bin/linkcored#${binary}#g" "$here/systemd/$unit" >"$tmp/$unit"
done

echo "== systemd-analyze verify"
# Unit files next to each other so that Service= in the socket unit resolves.
(cd "$tmp" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$tmp/linkcored.service" "$tmp/linkcored.socket") 2>&1 \
    | tee "$tmp/verify.log"
if [[ -s "$tmp/verify.log" ]]; then
    echo "verify reported problems" >&2
    exit 1
fi
echo "ok"

echo "== systemd-analyze security"
systemd-analyze --offline=true security --no-pager "$tmp/linkcored.service" | tee "$tmp/security.log"
score="$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p' "$tmp/security.log" | tail -n1)"
if [[ -z "$score" ]]; then
    echo "could not read the exposure score" >&2
    exit 1
fi
echo "exposure: $score (maximum allowed: $max_exposure)"
awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }' || {
    echo "exposure $score is above $max_exposure" >&2
    exit 1
}
