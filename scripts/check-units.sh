#!/usr/bin/env bash
# Checks the systemd units: `systemd-analyze verify` (syntax, directives, referenced units and
# executables) and `systemd-analyze security` (sandbox exposure score) of each service.
#
# verify insists that ExecStart= exists. So that the check runs on a build or CI machine where
# linkcored and linkcore-matcher are not installed, the units are copied to a temporary directory
# and Exec*'s /usr/local/bin/<name> is pointed at a stub executable there; nothing else is
# changed, and the files in the repository are never modified. Set LINKCORED=/path/to/linkcored
# LINKCORE_MATCHER=/path/to/linkcore-matcher, LINKCORE_ADAPTER=/path/to/linkcore-adapter, LINKCORE_PORTAL=/path/to/linkcore-portal and LINKCTL=/path/to/linkctl (LINKCORE_JPKI=/path/to/linkcore-jpki) to verify
# against real binaries instead.
#
# Usage: scripts/check-units.sh [max-exposure]   (default 2.0; fails when a score is higher)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
max_exposure="${1:-2.0}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

stub() {
    printf '#!/bin/sh\nexit 0\n' >"$tmp/$1"
    chmod 0755 "$tmp/$1"
    echo "$tmp/$1"
}
linkcored="${LINKCORED:-$(stub linkcored)}"
matcher="${LINKCORE_MATCHER:-$(stub linkcore-matcher)}"
adapter="${LINKCORE_ADAPTER:-$(stub linkcore-adapter)}"
linkctl="${LINKCTL:-$(stub linkctl)}"
jpki="${LINKCORE_JPKI:-$(stub linkcore-jpki)}"
portal="${LINKCORE_PORTAL:-$(stub linkcore-portal)}"

units=(linkcored.service linkcored.socket linkcore-matcher.service linkcore-adapter.service linkcore-jpki.service)
services=(linkcored.service linkcore-matcher.service linkcore-adapter.service linkcore-jpki.service)
# The card authority's daily job (issue 14): registry changes as revocations, then the CRL.
units+=(linkcore-jpki-registry-sync.service linkcore-jpki-crl.service linkcore-jpki-crl.timer)
services+=(linkcore-jpki-registry-sync.service linkcore-jpki-crl.service)
units+=(linkcore-jpki-ocsp.service)
services+=(linkcore-jpki-ocsp.service)
# My Portal (issue 15).
units+=(linkcore-portal.service)
services+=(linkcore-portal.service)
# Several nodes (issue 16): the template, verified as is and as an instance (%i = n1), scored as
# the instance (security needs a concrete unit).
units+=(linkcored@.service)
services+=(linkcored@n1.service)
for unit in "${units[@]}"; do
    sed -e "s#/usr/local/bin/linkcored\\b#${linkcored}#g" -e "s#/usr/local/bin/linkcore-matcher\\b#${matcher}#g" \
        -e "s#/usr/local/bin/linkcore-adapter\\b#${adapter}#g" \
        -e "s#/usr/local/bin/linkctl\\b#${linkctl}#g" -e "s#/usr/local/bin/linkcore-jpki\\b#${jpki}#g" \
        -e "s#/usr/local/bin/linkcore-portal\\b#${portal}#g" \
        "$here/systemd/$unit" >"$tmp/$unit"
done

cp "$tmp/linkcored@.service" "$tmp/linkcored@n1.service"
units+=(linkcored@n1.service)

# linkcored@.service keeps linkcored.service's sandbox: every [Service] line but the per-instance
# ones (commands, directories, credentials) must be the same in both.
sandbox() {
    sed -n '/^\[Service\]/,/^\[Install\]/p' "$here/systemd/$1" | grep -v -e '^#' -e '^$' \
        -e '^Exec' -e '^StateDirectory=' -e '^RuntimeDirectory=' -e '^LoadCredential='
}
echo "== linkcored@.service has linkcored.service's sandbox"
if ! diff <(sandbox linkcored.service) <(sandbox linkcored@.service); then
    echo "linkcored@.service differs from linkcored.service in the lines above" >&2
    exit 1
fi
echo "ok"

echo "== systemd-analyze verify ${units[*]}"
# Unit files next to each other so that Service= in the socket unit resolves.
(cd "$tmp" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "${units[@]/#/$tmp/}") 2>&1 \
    | tee "$tmp/verify.log"
if [[ -s "$tmp/verify.log" ]]; then
    echo "verify reported problems" >&2
    exit 1
fi
echo "ok"

failed=0
for service in "${services[@]}"; do
    echo "== systemd-analyze security $service"
    systemd-analyze --offline=true security --no-pager "$tmp/$service" | tee "$tmp/security.log"
    score="$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p' "$tmp/security.log" | tail -n1)"
    if [[ -z "$score" ]]; then
        echo "could not read the exposure score of $service" >&2
        exit 1
    fi
    echo "$service exposure: $score (maximum allowed: $max_exposure)"
    awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }' || {
        echo "$service exposure $score is above $max_exposure" >&2
        failed=1
    }
done
exit "$failed"
