#!/usr/bin/env bash
# The whole resident journey in headless Chromium against the running demo (./scripts/run.sh in
# another terminal): starts the resident's `linkcore-card helper` on the demo card, then runs
# Tests/LinkcoreIntegrationTests/Browser/portal_journey.py (the browser test's script):
# account opening by card, a mediation CITY01 -> PENSION01 read on /log, a notice through CITY01's
# POST /notices in the folder, suspend/resume, SSO into CITY01's e-application, the attacks and
# the accessibility checks. Screenshots in run/journey/ (DOCS=1 also refreshes docs/portal/*.png).
#   usage: scripts/demo-browser.sh        (CONFIG=debug for the debug binaries, as run.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
run="$PWD/run"; bin="$(swift build -c "${CONFIG:-release}" --show-bin-path)"
out="$run/journey"; rm -rf "$out"; mkdir -p "$out"
curl -sf --cacert "$run/pki/ca.pem" https://localhost:8443/health | grep -q 'core: connected' ||
    { echo "start the demo first: ./scripts/run.sh" >&2; exit 1; }

# After the scenario's chapter 9 his signature certificate is revoked (he moved): as a holder
# does, he renews at the counter first (new keys and certificates; the portal then follows the
# certificate history to his account), so the journey can open/resume with the signature key.
softhsm=(env "SOFTHSM2_CONF=$run/card/softhsm2.conf")
sig="$(mktemp)"; "${softhsm[@]}" "$bin/linkcore-card" certificates --card CARD-90000000001 | awk '/^# sign$/ {f=1; next} /^# / {f=0} f' > "$sig"
if ! openssl ocsp -issuer "$run/jpki/ca.pem" -CAfile "$run/jpki/ca.pem" -cert "$sig" -url http://127.0.0.1:8600 2>/dev/null | grep -q ": good"; then
    printf '%s\n%s\n' ichiro1958 0612 | "${softhsm[@]}" "$bin/linkcore-jpki" renew --registry "$run/registry.sqlite" \
        --card CARD-90000000001 --dir "$run/jpki" >/dev/null
    "${softhsm[@]}" "$bin/linkcore-jpki" crl --dir "$run/jpki" >/dev/null
    echo "== renewed the card at the counter (its signature certificate was revoked by the scenario's move)"
fi
rm -f "$sig"
env SOFTHSM2_CONF="$run/card/softhsm2.conf" "$bin/linkcore-card" helper --card CARD-90000000001 \
    --listen 127.0.0.1:8765 --allow-origin https://localhost:8443=PORTAL >"$out/helper.log" 2>&1 &
helper=$!
trap 'kill "$helper" 2>/dev/null || true; wait "$helper" 2>/dev/null || true' EXIT
for _ in $(seq 300); do grep -q '^helper 127.0.0.1:8765' "$out/helper.log" && break; kill -0 "$helper" || exit 1; sleep 0.1; done

# The demo RP stores CITY01's code under a person id of its own at each sign-in (POST
# /links/signin re-points the code): CITY01's system links JUMIN-0001 again (the same code).
curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $(cat "$run/adapters/CITY01/api-token")" \
    --data '{"person_id":"JUMIN-0001","consent_ref":"consent-journey","my_number":"555012345676"}' http://127.0.0.1:8481/links

# What must appear in no URL: every link code the adapters hold, the card's serials, the person ids.
secrets="$(for org in CITY01 PENSION01 HEALTH01 BANK01; do sqlite3 "$run/adapters/$org/adapter.sqlite" 'SELECT link_code, person_id FROM links' | tr '|' '\n'; done
           sqlite3 "$run/portal/portal.sqlite" 'SELECT lp_link_code FROM bindings' 2>/dev/null || true
           "${softhsm[@]}" "$bin/linkcore-card" certificates --card CARD-90000000001 | openssl x509 -noout -serial | sed 's/^serial=//'
           for pem in "$run"/card/*.pem; do openssl x509 -noout -serial -in "$pem" | sed 's/^serial=//'; done)"
jq -n --arg portal https://localhost:8443 --arg rp http://127.0.0.1:8490/ --arg out "$out" --arg db "$run/portal/portal.sqlite" \
    --arg token "$(cat "$run/adapters/CITY01/api-token")" --arg secrets "$secrets" '{
    portal: $portal, rp: $rp, profile: ($out + "/profile"), shots: $out, sign_pin: "ichiro1958", auth_pin: "0612", database: $db,
    adapter: {url: "http://127.0.0.1:8481", token: $token,
              ask: {person_id: "JUMIN-0001", provider_org: "PENSION01", bp_id: "BP-CHILD-REARING-ALLOWANCE", info_type: "PENSION-BENEFIT"},
              notice: {person_id: "JUMIN-0001", notice_type: "child-allowance", title: "児童手当の認定のお知らせ",
                       body: "児童手当の認定をしました。\n支給は6月からです。"}},
    secrets: ($secrets | split("\n") | map(select(length > 0)))}' > "$out/config.json"
/usr/bin/python3 Tests/LinkcoreIntegrationTests/Browser/portal_journey.py "$out/config.json" "$out/result.json"
jq '{failures, attacks, a11y, rp_result, log_rows}' "$out/result.json"
echo "screenshots in $out"
# DOCS=1: the few docs/portal.md shows (phone 390x844; desktop 1280x900 where named so).
if [ "${DOCS:-0}" = 1 ]; then
    for page in landing login account log folder consent landing-desktop log-desktop consent-desktop; do
        shot="$(ls "$out"/[0-9][0-9]-"$page".png | head -1)"
        cp "$shot" "docs/portal/journey-$page.png"
    done
    echo "copied to docs/portal/journey-*.png"
fi
