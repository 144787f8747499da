#!/usr/bin/env bash
# Private-sector onboarding end to end on a local network (docs/onboarding.md, step by step):
# the operator registers a bank, the bank makes its key and CSR, the operator signs it, the
# bank's adapter connects, links a customer with the customer's consent, asks a permitted
# question and is refused an unpermitted one, is charged, receives a change event and reads its
# statement. Prints a trace; exits non-zero at the first step that fails.
#
# Uses built binaries (CONFIG=release by default, CONFIG=debug for a debug build) and its own
# state in run/onboarding/ (recreated each time) and its own ports (core 7410, matcher 7510,
# APIs 8491-8492), so it runs beside scripts/run.sh's demo network.
set -euo pipefail
cd "$(dirname "$0")/.."

config="${CONFIG:-release}"
for product in linkcored linkctl linkcore-matcher linkcore-adapter linkcore-policy-whitelist linkcore-policy-fees; do
    swift build -c "$config" --product "$product" 2>&1 | grep -v "^\[" | grep -v "^Building" || true
done
bin="$(swift build -c "$config" --show-bin-path)"
etc="$PWD/etc/linkcore"
dir="$PWD/run/onboarding"
rm -rf "$dir" && mkdir -p "$dir/operator" "$dir/bank" "$dir/city" "$dir/logs" && chmod 700 "$PWD/run" "$dir"

company=BANK02                       # a class "@bank" code (etc/linkcore/whitelist.toml: BANK*)
pids=()
stop() {
    trap - INT TERM EXIT
    for (( i=${#pids[@]}-1; i>=0; i-- )); do kill -TERM "${pids[$i]}" 2>/dev/null || true; wait "${pids[$i]}" 2>/dev/null || true; done
}
trap stop EXIT
trap 'stop; exit 130' INT TERM

n=0
step() { n=$((n + 1)); printf '\n\033[1m%d. %s\033[0m\n' "$n" "$*"; }
say() { printf '   %s\n' "$*"; }
fail() { printf '\033[31mFAILED at step %d: %s\033[0m\n' "$n" "$*" >&2; exit 1; }
out="$dir/last-response.json"
api() { # PORT METHOD PATH [JSON] -> $status, $body
    : > "$out"
    status="$(curl -s -o "$out" -w '%{http_code}' -X "$2" -H 'Content-Type: application/json' ${4:+--data "$4"} "http://127.0.0.1:$1$3")" || status=000
    body="$(cat "$out")"
}
wait_connected() { # PORT
    for _ in $(seq 200); do
        api "$1" GET /status
        [ "$(jq -r .core_connected <<<"$body" 2>/dev/null)" = true ] && return 0
        sleep 0.1
    done
    return 1
}

step "Operator: the network's PKI, the core (whitelist and fees modules) and the matching authority"
"$bin/linkctl" pki init --dir "$dir/operator/pki" --server-name localhost --server-ip 127.0.0.1 >/dev/null
for org in CITY01 MATCHER; do "$bin/linkctl" pki issue --dir "$dir/operator/pki" --org "$org" --name "Demo $org" >/dev/null; done
"$bin/linkctl" keys master-init --out "$dir/operator/master.key" >/dev/null
sed -e "s|@RUN@/pki|$dir/operator/pki|g" -e "s|@RUN@/master.key|$dir/operator/master.key|g" -e "s|@RUN@|$dir/operator|g" \
    -e "s|@BIN@|$bin|g" -e "s|@ETC@|$etc|g" -e "s|127.0.0.1:7400|127.0.0.1:7410|" "$etc/linkcored.local.toml" > "$dir/operator/linkcored.toml"
cp "$etc/whitelist-builtin.csv" "$dir/operator/"
"$bin/linkcored" --config "$dir/operator/linkcored.toml" >>"$dir/logs/linkcored.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ -S "$dir/operator/admin.sock" ] && break; sleep 0.1; done
[ -S "$dir/operator/admin.sock" ] || fail "linkcored did not start: $(tail -5 "$dir/logs/linkcored.log")"
ctl() { "$bin/linkctl" "$@" --socket "$dir/operator/admin.sock"; }
ctl org add --code MATCHER --name "Matching authority" --sector public --role matcher >/dev/null
ctl org add --code CITY01 --name "Demo City" --sector public --role agency >/dev/null
"$bin/linkcore-matcher" registry generate --db "$dir/operator/registry.sqlite" --count 200 --seed 7 >/dev/null 2>&1
"$bin/linkcore-matcher" registry import --db "$dir/operator/registry.sqlite" --csv "$etc/demo-residents.csv" --strict >/dev/null 2>&1
sed -e "s|@RUN@/pki|$dir/operator/pki|g" -e "s|@RUN@|$dir/operator|g" -e "s|127.0.0.1:7500|127.0.0.1:7510|" \
    -e "s|127.0.0.1:7400|127.0.0.1:7410|" "$etc/matcher.local.toml" > "$dir/operator/matcher.toml"
"$bin/linkcore-matcher" serve --config "$dir/operator/matcher.toml" >>"$dir/logs/matcher.log" 2>&1 &
pids+=($!)
# CITY01, an agency already on the network, answers from its own records.
"$bin/linkcore-adapter" dataset --db "$dir/city/answers.sqlite" --person JUMIN-0002 --info ADDRESS-CURRENT \
    --answer "yes: the address on record is current"
sed -e "s|@RUN@/adapters/@ORG@|$dir/city|g" -e "s|@RUN@/pki/orgs/@ORG@|$dir/operator/pki/orgs/CITY01|g" -e "s|@RUN@|$dir/operator|g" \
    -e "s|@ORG@|CITY01|g" -e "s|@PORT@|8491|" -e "s|127.0.0.1:7400|127.0.0.1:7410|" -e "s|127.0.0.1:7500|127.0.0.1:7510|" \
    "$etc/adapter.local.toml" > "$dir/city/adapter.toml"
"$bin/linkcore-adapter" run --config "$dir/city/adapter.toml" >>"$dir/logs/adapter-CITY01.log" 2>&1 &
pids+=($!)
wait_connected 8491 || fail "CITY01's adapter did not connect"
say "core 127.0.0.1:7410, matcher 127.0.0.1:7510, CITY01's adapter http://127.0.0.1:8491"

step "Operator registers the company: linkctl org add --code $company --sector private --role private-connector"
ctl org add --code "$company" --name "Demo Bank Two" --sector private --role private-connector >/dev/null
ctl org show "$company" | sed 's/^/   /'

step "Company: makes its private key and a certificate signing request (the key never leaves it)"
"$bin/linkctl" pki csr --org "$company" --name "Demo Bank Two" --out-key "$dir/bank/$company.key" --out-csr "$dir/bank/$company.csr"
say "key $dir/bank/$company.key (mode $(stat -c %a "$dir/bank/$company.key")), CSR sent to the operator"

step "Operator: signs the CSR, binding the certificate to $company"
"$bin/linkctl" pki sign-csr --dir "$dir/operator/pki" --csr "$dir/bank/$company.csr" --org "$company" --out "$dir/bank/$company.pem" >/dev/null
cp "$dir/operator/pki/ca.pem" "$dir/bank/ca.pem"
say "$(openssl x509 -in "$dir/bank/$company.pem" -noout -subject -ext subjectAltName 2>/dev/null | tr -s ' \n' ' ')"

step "Company: configures and starts its adapter (linkcore-adapter run --config adapter.toml)"
cat > "$dir/bank/adapter.toml" <<TOML
[adapter]
org_code = "$company"
database = "$dir/bank/adapter.sqlite"

[core]
address = "127.0.0.1:7410"
server_name = "localhost"
certificate = "$dir/bank/$company.pem"
private_key = "$dir/bank/$company.key"
ca_bundle = "$dir/bank/ca.pem"

[matcher]
address = "127.0.0.1:7510"
server_name = "localhost"

[api]
listen = "127.0.0.1:8492"

[backend]
kind = "dataset"
dataset = "$dir/bank/answers.sqlite"
TOML
"$bin/linkcore-adapter" dataset --db "$dir/bank/answers.sqlite"
"$bin/linkcore-adapter" run --config "$dir/bank/adapter.toml" --check-config | sed 's/^/   /'
"$bin/linkcore-adapter" run --config "$dir/bank/adapter.toml" >>"$dir/logs/adapter-$company.log" 2>&1 &
pids+=($!)
wait_connected 8492 || fail "the company's adapter did not connect: $(tail -5 "$dir/logs/adapter-$company.log")"
say "connected: $(jq -c '{org_code, core_connected, backend}' <<<"$body")"

step "A customer consents; the company links her through the matcher (POST /links)"
facts='{"name":"田中 美咲","name_kana":"タナカ ミサキ","address":"神奈川県横浜市中区日本大通1","birth_date":"1987-09-30","sex":"F"}'
api 8491 POST /links "{\"person_id\":\"JUMIN-0002\",\"consent_ref\":\"city-register\",\"facts\":$facts}"
[ "$status" = 201 ] || fail "CITY01 link: HTTP $status $body"
api 8492 POST /links "{\"person_id\":\"CUST-7001\",\"consent_ref\":\"consent-form-2026-0042\",\"facts\":$facts}"
[ "$status" = 201 ] || fail "link: HTTP $status $body"
say "customer CUST-7001 -> link code $(jq -r .link_code <<<"$body") (consent consent-form-2026-0042)"

step "A permitted question: is the customer's address current? (W-028, BP-CUSTOMER-DUE-DILIGENCE)"
api 8492 POST /ask '{"person_id":"CUST-7001","provider_org":"CITY01","bp_id":"BP-CUSTOMER-DUE-DILIGENCE","info_type":"ADDRESS-CURRENT"}'
[ "$status" = 200 ] || fail "permitted question: HTTP $status $body"
say "answered by CITY01: \"$(jq -r .answer <<<"$body")\""

step "An unpermitted question: the customer's local tax income (no row lets a bank ask it)"
api 8492 POST /ask '{"person_id":"CUST-7001","provider_org":"CITY01","bp_id":"BP-CHILD-ALLOWANCE","info_type":"LOCAL-TAX-INCOME"}'
[ "$status" = 403 ] && [ "$(jq -r .error.code <<<"$body")" = NOT_PERMITTED ] || fail "expected NOT_PERMITTED, got HTTP $status $body"
say "refused: $(jq -r '"\(.error.code) (\(.error.number)): \(.error.message)"' <<<"$body")"

step "The customer moves; the registry's change reaches the company as a change event"
"$bin/linkcore-matcher" registry change --db "$dir/operator/registry.sqlite" --resident 90000000002 --moved "神奈川県横浜市西区みなとみらい2丁目2番1号" >/dev/null
events=0
for _ in $(seq 150); do api 8492 GET /events; events="$(jq '.events | length' <<<"$body")"; [ "$events" -gt 0 ] && break; sleep 0.2; done
[ "$events" -gt 0 ] || fail "no change event reached the company"
say "$(jq -r '.events[0] | "event \(.event_id) for customer \(.person_id): \(.kind) (a private connector is told only that something changed)"' <<<"$body")"
api 8492 POST /events/ack "{\"event_ids\":$(jq -c '[.events[].event_id]' <<<"$body")}"
say "acknowledged: $(jq .acknowledged <<<"$body")"

step "The company reads its own fee statement (GET /statement)"
api 8492 GET /statement
[ "$status" = 200 ] || fail "statement: HTTP $status $body"
jq -r '.lines[] | "   \(.operation): \(.count) x \(.unit_price_yen) yen = \(.amount_yen) yen [\(.tariff_id)]"' <<<"$body"
[ "$(jq .total_yen <<<"$body")" -gt 0 ] || fail "the company was not charged: $body"
say "total $(jq .total_yen <<<"$body") yen for $(jq -r .period <<<"$body")"

printf '\n\033[1monboarding complete: %s is on the network\033[0m\n' "$company"
