#!/usr/bin/env bash
# The demo network's scripted scenario, run by scripts/run.sh once linkcored, linkcore-matcher
# and the adapters are up: it speaks only to the adapters' local APIs (what an organisation's
# own systems do) and to the registry clerk's command. Prints a readable trace; exits non-zero
# at the first step that does not go as expected.
# Chapters 5-9 are the number card's (docs/card.md): they also drive the card authority
# (linkcore-jpki, state in RUN_DIR/jpki, OCSP responder on 8600) and the resident's card client
# (linkcore-card, SoftHSM2 tokens in RUN_DIR/card).
# The last chapter is My Portal's (docs/portal.md; scripts/demo-portal.sh): linkcore-portal on
# https://localhost:8443 is the organisation PORTAL.
#   usage: demo-scenario.sh RUN_DIR BIN_DIR   (ports: CITY01 8481, PENSION01 8482, HEALTH01 8483,
#                                             BANK01 8484, portal 8443, OCSP 8600)
#   DEMO_CHAPTERS=network: chapters 1-4 only (links, questions, a change, fees), as
#   scripts/cluster-demo.sh runs them across three core nodes.
set -euo pipefail
run="$1"; bin="$2"

declare -A port=([CITY01]=8481 [PENSION01]=8482 [HEALTH01]=8483 [BANK01]=8484)
bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
step() { printf '  %-10s %s\n' "$1" "$2"; }
fail() { printf '\033[31mFAILED: %s\033[0m\n' "$*" >&2; exit 1; }

# api ORG METHOD PATH [JSON]: sets $status (HTTP) and $body (JSON), as the organisation's system sees them.
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
api() {
    # Each adapter's bearer token: the 0600 file it created beside its database (docs/adapter.md).
    status="$(curl -s -o "$out" -w '%{http_code}' -X "$2" -H 'Content-Type: application/json' \
        -H "Authorization: Bearer $(cat "$run/adapters/$1/api-token")" \
        ${4:+--data "$4"} "http://127.0.0.1:${port[$1]}$3")" || status=000
    body="$(cat "$out")"
}

# The resident of the scenario (imported into the registry by run.sh). His address is read from
# the registry: each run moves him (step 3), and the four facts must be today's.
address="$("$bin/linkcore-matcher" registry show --db "$run/registry.sqlite" --resident 90000000001 | sed -n 's/^address *//p' | head -1)"
facts="{\"name\":\"鈴木 一郎\",\"name_kana\":\"スズキ イチロウ\",\"address\":\"$address\",\"birth_date\":\"1958-06-12\",\"sex\":\"M\"}"
my_number=555012345676

bold "1. Links: each organisation obtains its own link code for 鈴木 一郎 through the matcher, with his consent"
declare -A code=()   # each organisation's link code, compared with the link by card (chapter 6)
link() { # ORG PERSON_ID SUBJECT_JSON_FIELD
    api "$1" POST /links "{\"person_id\":\"$2\",\"consent_ref\":\"consent-$1-$(date +%Y%m%d)\",$3}"
    [ "$status" = 201 ] || fail "$1 link: HTTP $status $body"
    code[$1]="$(jq -r .link_code <<<"$body")"
    step "$1" "person $2 -> link code $(jq -r .link_code <<<"$body")   (by ${4})"
}
link CITY01    JUMIN-0001  "\"facts\":$facts"              "four facts"
link PENSION01 NENKIN-7788 "\"my_number\":\"$my_number\""  "My Number"
link HEALTH01  KENPO-4455  "\"facts\":$facts"              "four facts"
link BANK01    CUST-000042 "\"facts\":$facts"              "four facts, consent to the bank"
echo "  (four codes for one man; none can be turned into another except by the core. The portal's own"
echo "   link is made by his card in chapter 8)"

bold "2. Questions, by each organisation's own person ID (the adapters supply the link codes)"
ask() { # ORG PERSON PROVIDER BP INFO EXPECT(answer|refused)
    api "$1" POST /ask "{\"person_id\":\"$2\",\"provider_org\":\"$3\",\"bp_id\":\"$4\",\"info_type\":\"$5\"}"
    if [ "$6" = answer ]; then
        [ "$status" = 200 ] || fail "$1 asks $3 $5: HTTP $status $body"
        step "$1" "asks $3 for $5 ($4)"
        step "" "-> answered: \"$(jq -r .answer <<<"$body")\"   mediation $(jq -r .mediation_id <<<"$body")"
    else
        [ "$status" = 403 ] && [ "$(jq -r .error.code <<<"$body")" = NOT_PERMITTED ] || fail "$1 asks $3 $5: expected NOT_PERMITTED, got HTTP $status $body"
        step "$1" "asks $3 for $5 ($4)"
        step "" "-> REFUSED by the whitelist: $(jq -r .error.code <<<"$body") ($(jq -r .error.message <<<"$body"))"
    fi
}
ask PENSION01 NENKIN-7788 CITY01    BP-PENSION-CONTRIBUTION-EXEMPTION LOCAL-TAX-INCOME             answer
ask CITY01    JUMIN-0001  HEALTH01  BP-HEALTH-ELIGIBILITY             HEALTH-INSURANCE-ELIGIBILITY answer
ask CITY01    JUMIN-0001  PENSION01 BP-CHILD-REARING-ALLOWANCE        PENSION-BENEFIT              answer
ask BANK01    CUST-000042 CITY01    BP-CUSTOMER-DUE-DILIGENCE         ADDRESS-CURRENT              answer
ask BANK01    CUST-000042 PENSION01 BP-REVERSE-MORTGAGE               PENSION-BENEFIT              refused
echo "  (W-027 lets BANK01 ask about pensions only from 2027-04-01: etc/linkcore/whitelist.toml)"

bold "3. A change: the registry clerk records that 鈴木 一郎 moved"
api CITY01 GET '/events?all=true'; before="$(jq '.events | length' <<<"$body")"
"$bin/linkcore-matcher" registry change --db "$run/registry.sqlite" --resident 90000000001 \
    --moved "東京都新宿区西新宿$(( RANDOM % 8 + 1 ))丁目1番1号" >/dev/null
step clerk "linkcore-matcher registry change --resident 90000000001 --moved ..."
for _ in $(seq 100); do
    api CITY01 GET '/events?all=true'
    [ "$(jq '.events | length' <<<"$body")" -gt "$before" ] && break; sleep 0.1
done
# Each organisation gets its event at its own random time within the delivery window
# ([events] delivery_window_ms, 2 s in linkcored.local.toml): wait for each.
for org in CITY01 PENSION01 HEALTH01 BANK01; do
    for _ in $(seq 100); do
        api "$org" GET /events
        [ "$status" = 200 ] && [ "$(jq '.events | length' <<<"$body")" -gt 0 ] && break; sleep 0.1
    done
    [ "$status" = 200 ] || fail "$org events: HTTP $status"
    n="$(jq '.events | length' <<<"$body")"
    [ "$n" -gt 0 ] || fail "$org received no change event"
    step "$org" "$(jq -r '.events[-1] | "event \(.event_id[0:8])… for person \(.person_id): \(.kind)"' <<<"$body")"
    ids="$(jq -c '[.events[].event_id]' <<<"$body")"
    api "$org" POST /events/ack "{\"event_ids\":$ids}"
    step "" "-> handled by $org's system and acknowledged ($(jq .acknowledged <<<"$body"))"
done
echo "  (the bank is told that something changed, not what: private connectors never get the kind)"

bold "4. BANK01 reads its own fee statement for $(TZ=Asia/Tokyo date +%Y-%m)"
api BANK01 GET /statement
[ "$status" = 200 ] || fail "statement: HTTP $status $body"
jq -r '.lines[] | "  \(.operation | . + " " * (16 - length)) \(.count) x \(.unit_price_yen) yen = \(.amount_yen) yen   [\(.tariff_id)]"' <<<"$body"
echo "  total $(jq -r .total_yen <<<"$body") yen ($(jq -r .ledger_entries <<<"$body") ledger entries)"

# DEMO_CHAPTERS=network stops here: scripts/cluster-demo.sh runs no card authority or portal.
if [ "${DEMO_CHAPTERS:-all}" != network ]; then
    . "$(dirname "$0")/demo-portal.sh"
    . "$(dirname "$0")/demo-card.sh"
    portal_read_log
fi
bold "scenario complete"
