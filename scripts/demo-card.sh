# The demo scenario's number card chapters (issue 14; docs/card.md), sourced by
# scripts/demo-scenario.sh after its chapter 4: it uses that script's $run, $bin, api, step, bold,
# fail and the link codes of chapter 1 (${code[BANK01]}).
#
# The card authority is linkcore-jpki on run/jpki (its CA, store and CRL; its OCSP responder is
# run.sh's child on 127.0.0.1:8600). The card is two SoftHSM2 tokens in run/card (one per
# application, docs/card.md "One card, two applications"), opened only by commands given
# SOFTHSM2_CONF in their own environment. Re-runs: the card is issued once; a later run finds it
# active with its signature certificate revoked by the previous run's move and renews it at the
# counter (new keys, certificates with today's address), as a holder who moved does.

jpki="$run/jpki"
card=CARD-90000000001             # its tokens: CARD-90000000001-SIG and CARD-90000000001-AUTH
softhsm=(env "SOFTHSM2_CONF=$run/card/softhsm2.conf")
ocsp_url=http://127.0.0.1:8600
# Demo PINs. The authority locks the card for the post under initial PINs; at the counter the
# holder sets his own (activate). The SO PIN is the authority's (kept per card: to come).
so_pin=so-demo-0001; post_sign_pin=post00demo; post_auth_pin=0000
sign_pin=ichiro1958; auth_pin=0612

# ocsp_status PEM: "good", or "revoked (reason)", as openssl's OCSP client reads the responder.
ocsp_status() {
    local answer
    answer="$(openssl ocsp -issuer "$jpki/ca.pem" -CAfile "$jpki/ca.pem" -cert "$1" -url "$ocsp_url" 2>&1)" ||
        fail "openssl ocsp: $answer"
    grep -q 'Response verify OK' <<<"$answer" || fail "openssl ocsp did not verify the answer: $answer"
    local status reason
    status="$(sed -n "s|^$1: ||p" <<<"$answer")"
    reason="$(sed -n 's/^[[:space:]]*Reason: //p' <<<"$answer")"
    echo "$status${reason:+ ($reason)}"
}
# card_certificates: the card's two certificates (read without a PIN) into run/card/*.pem.
card_certificates() {
    local listed
    listed="$("${softhsm[@]}" "$bin/linkcore-card" certificates --card "$card")" || fail "linkcore-card certificates"
    awk '/^# sign$/ {f=1; next} /^# / {f=0} f' <<<"$listed" > "$run/card/signature.pem"
    awk '/^# auth$/ {f=1; next} /^# / {f=0} f' <<<"$listed" > "$run/card/user.pem"
}
serial() { openssl x509 -noout -serial -in "$1" | sed 's/^serial=//'; }
jpki_run() { "${softhsm[@]}" "$bin/linkcore-jpki" "$@" --dir "$jpki"; }

bold "5. The number card: the card authority issues 鈴木 一郎 a card, two SoftHSM2 tokens (signature, user authentication)"
# The authority's daily registry-sync first: moves recorded so far (chapter 3's) are applied
# before any certificate is issued from the registry's facts.
synced="$(jpki_run registry-sync --registry "$run/registry.sqlite")" || fail "registry-sync"
step authority "registry-sync (its daily run, before issuing from the registry): $synced"
# The card's state at the authority: exit 10 is "no such card" (a fresh run/), anything else a failure.
if record="$(jpki_run card-status --card "$card" 2>/dev/null)"; then
    state="$(jq -r .state <<<"$record")"
else
    rc=$?; [ "$rc" = 10 ] || fail "linkcore-jpki card-status: exit $rc"; state=none
fi
if [ "$state" = none ] || [ "$state" = applied ]; then
    # Read whole before matching: grep -q stopping early would fail the pipeline (pipefail).
    slots="$("${softhsm[@]}" softhsm2-util --show-slots 2>/dev/null)" || slots=""
    for app in "SIG:$post_sign_pin" "AUTH:$post_auth_pin"; do
        # Once per token: a run stopped half-way finds its tokens and goes on with them.
        grep -q "Label: *$card-${app%%:*} *\$" <<<"$slots" ||
            "${softhsm[@]}" softhsm2-util --init-token --free --label "$card-${app%%:*}" --so-pin "$so_pin" --pin "${app#*:}" >/dev/null
    done
    if "${softhsm[@]}" "$bin/linkcore-card" status --card "$card" | jq -e 'all(.[]; .hasKeyPair | not)' >/dev/null; then
        printf '%s\n%s\n' "$post_sign_pin" "$post_auth_pin" | "${softhsm[@]}" "$bin/linkcore-card" personalise --card "$card" >/dev/null
    fi
    step authority "personalise: key pairs generated on both tokens (private keys never leave them)"
    issued="$(printf '%s\n%s\n' "$post_sign_pin" "$post_auth_pin" |
        jpki_run issue --registry "$run/registry.sqlite" --resident 90000000001 --card "$card")" || fail "issue"
    step authority "issue: both certificates from the registry, written to the card: $(jq -c . <<<"$issued")"
    state=personalised
fi
if [ "$state" = personalised ]; then
    state="$(jpki_run transition --card "$card" --event send)" || fail "send"
    step authority "send: the card is posted, locked under initial PINs"
fi
if [ "$state" = sent ]; then
    state="$(printf '%s\n%s\n%s\n' "$so_pin" "$sign_pin" "$auth_pin" | jpki_run activate --card "$card")" || fail "activate"
    step counter "activate: 鈴木 一郎 sets his own PINs (signature 6-16 letters or digits, user authentication 4 digits)"
fi
[ "$state" = active ] || fail "card $card is $state: delete run/ to start the demo over"
card_certificates
if [ "$(ocsp_status "$run/card/signature.pem")" != good ]; then
    renewed="$(printf '%s\n%s\n' "$sign_pin" "$auth_pin" | jpki_run renew --registry "$run/registry.sqlite" --card "$card")" ||
        fail "renew"
    step counter "renew: the card of an earlier run, its signature certificate revoked by his move; new keys and"
    step "" "certificates with today's address (generation $(jpki_run card-status --card "$card" | jq .generation)): $(jq -c . <<<"$renewed")"
    card_certificates
fi
step card "signature certificate $(serial "$run/card/signature.pem"): $(openssl x509 -noout -subject -nameopt oneline,-esc_msb -in "$run/card/signature.pem")"
step card "user certificate      $(serial "$run/card/user.pem"): $(openssl x509 -noout -subject -nameopt oneline,-esc_msb -in "$run/card/user.pem")"
signature_status="$(ocsp_status "$run/card/signature.pem")"; user_status="$(ocsp_status "$run/card/user.pem")"
step OCSP "openssl ocsp -url $ocsp_url: signature $signature_status, user $user_status"
[ "$signature_status" = good ] && [ "$user_status" = good ] || fail "a new card's certificates: $signature_status, $user_status"
echo "  (the four facts are in the signature certificate only; the user certificate names nobody)"

bold "6. BANK01 opens an account for him by card: the link by certificate, his signature PIN is his consent"
# link_by_card: a fresh consent for BANK01, signed on the card; then BANK01's POST /links.
link_by_card() {
    local consent
    consent="$(printf '%s\n' "$sign_pin" | "${softhsm[@]}" "$bin/linkcore-card" consent --card "$card" --requester BANK01 2>/dev/null)" ||
        fail "linkcore-card consent"
    api BANK01 POST /links "$(jq -c --arg ref "card-consent-BANK01-$(date +%Y%m%d)" \
        '{person_id: "CUST-000042", consent_ref: $ref, card: .}' <<<"$consent")"
}
link_by_card
[ "$status" = 201 ] || fail "BANK01 link by card: HTTP $status $body"
step card "linkcore-card consent --requester BANK01: signed with the signature key after his signature PIN"
step BANK01 "POST /links {person_id, card: {certificate_pem, consent, signature_hex}} -> HTTP $status"
jq '{person_id, link_code}' <<<"$body" | sed 's/^/             /'
[ "$(jq -r .link_code <<<"$body")" = "${code[BANK01]}" ] || fail "the link by card is not chapter 1's link"
echo "  (the matcher read the four facts from the certificate and checked it with OCSP; the core saw"
echo "   neither. The code is chapter 1's: one link per resident and organisation, however it was asked)"

bold "7. He logs in to BANK01's web site by card: challenge, signature by the user authentication key, verify"
api BANK01 POST /card/challenge '{}'
[ "$status" = 200 ] || fail "challenge: HTTP $status $body"
challenge="$(jq -r .challenge_hex <<<"$body")"
step BANK01 "POST /card/challenge: $(jq -r .challenge_text <<<"$body" | paste -sd ' ')"
# login: signs $challenge on the card (4-digit PIN) and sends it to POST /card/verify.
login() {
    local signature
    signature="$(printf '%s\n' "$auth_pin" |
        "${softhsm[@]}" "$bin/linkcore-card" sign --card "$card" --app auth --challenge "$challenge")" || fail "linkcore-card sign"
    api BANK01 POST /card/verify "$(jq -nc --arg c "$challenge" --arg s "$signature" --rawfile p "$run/card/user.pem" \
        '{challenge_hex: $c, signature_hex: $s, certificate_pem: $p}')"
    [ "$status" = 200 ] || fail "card login: HTTP $status $body"
}
login
step card "linkcore-card sign --app auth: signed after his 4-digit PIN"
step BANK01 "POST /card/verify -> HTTP $status"
jq '{serial, status, status_source}' <<<"$body" | sed 's/^/             /'

portal_open
bold "9. He moves: the authority revokes his signature certificate, and the bank's next OCSP check says so"
address="$("$bin/linkcore-matcher" registry show --db "$run/registry.sqlite" --resident 90000000001 | sed -n 's/^address *//p' | head -1)"
n=$(( RANDOM % 5 + 1 ))
new_address="東京都中野区中野${n}丁目2番3号"
[ "$new_address" != "$address" ] || new_address="東京都中野区中野$(( n % 5 + 1 ))丁目2番3号"
"$bin/linkcore-matcher" registry change --db "$run/registry.sqlite" --resident 90000000001 --moved "$new_address" >/dev/null
step clerk "linkcore-matcher registry change --resident 90000000001 --moved $new_address"
synced="$(jpki_run registry-sync --registry "$run/registry.sqlite")" || fail "registry-sync"
step authority "registry-sync: $synced"
published="$(jpki_run crl)" || fail "crl"
step authority "crl: $published   (the fallback when the responder is down)"
signature_status="$(ocsp_status "$run/card/signature.pem")"; user_status="$(ocsp_status "$run/card/user.pem")"
step OCSP "openssl ocsp -url $ocsp_url: signature $signature_status, user $user_status"
[ "$signature_status" = "revoked (affiliationChanged)" ] && [ "$user_status" = good ] ||
    fail "after the move: signature $signature_status, user $user_status"
link_by_card
[ "$status" = 422 ] && [ "$(jq -r .error.code <<<"$body")" = CARD_CERTIFICATE_REVOKED ] ||
    fail "second link by card: expected CARD_CERTIFICATE_REVOKED, got HTTP $status $body"
step BANK01 "POST /links by card again -> HTTP $status REFUSED: $(jq -r '.error | "\(.code) (\(.message))"' <<<"$body")"
api BANK01 POST /card/challenge '{}'
[ "$status" = 200 ] || fail "challenge: HTTP $status $body"
challenge="$(jq -r .challenge_hex <<<"$body")"
login
step BANK01 "his next login by card -> HTTP $status: $(jq -c '{serial, status, status_source}' <<<"$body")"
echo "  (a move revokes only the signature certificate, reason affiliationChanged: the bank learns that"
echo "   something changed, not what; the user certificate still logs him in)"
