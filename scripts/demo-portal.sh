# The demo scenario's My Portal chapters (issue 15; docs/portal.md), sourced by
# scripts/demo-scenario.sh: it uses that script's $run, $bin, step, bold, fail and demo-card.sh's
# card ($card, $softhsm, $sign_pin, $auth_pin, run/card/{signature,user}.pem).
#
# The demo runs headless, so the card signs by a SCRIPTED path: curl is the browser (a cookie jar,
# the pages' CSRF tokens, the Origin header a browser sends) and `linkcore-card sign` signs what
# the page hands out (data-consent with the signature key, data-challenge with the user key),
# exactly what card.js hands the helper in a browser. A human does the same in a browser with
# `linkcore-card helper` running (run.sh prints the command).

portal_url=https://localhost:8443
portal_jar="$(mktemp)"; portal_page="$(mktemp)"
trap 'rm -f "$out" "$portal_jar" "$portal_page"' EXIT

# portal METHOD PATH [curl args...]: sets $pstatus (and $plocation); the page is in $portal_page.
portal() {
    local method="$1" path="$2"; shift 2
    local answer
    answer="$(curl -s --cacert "$run/pki/ca.pem" -b "$portal_jar" -c "$portal_jar" -X "$method" \
        -H "Origin: $portal_url" -o "$portal_page" -w '%{http_code} %{redirect_url}' "$@" "$portal_url$path")" || answer=000
    pstatus="${answer%% *}"; plocation="${answer#* }"
}
# attr NAME: the first NAME="…" on the page (after the text ANCHOR, when given).
attr() {
    python3 - "$portal_page" "$1" "${2:-}" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8").read()
if sys.argv[3]:
    text = text[text.find(sys.argv[3]) + len(sys.argv[3]):]
i = text.find(sys.argv[2] + '="')
print(text[i + len(sys.argv[2]) + 2:].split('"', 1)[0] if i >= 0 else "")
PY
}
card_sign() { # APP HEX PIN: the signature, hex, made on the card after the PIN
    printf '%s\n' "$3" | "${softhsm[@]}" "$bin/linkcore-card" sign --card "$card" --app "$1" --challenge "$2" 2>/dev/null ||
        fail "linkcore-card sign --app $1"
}
# card_form PATH: posts the card step of the page now in $portal_page (/open: consent + login; /login: login).
card_form() {
    local csrf challenge consent
    csrf="$(attr value 'name="csrf_token"')"; challenge="$(attr data-challenge)"; consent="$(attr data-consent)"
    [ -n "$csrf" ] && [ -n "$challenge" ] || fail "$1: no card step on the page"
    local fields=(--data-urlencode "csrf_token=$csrf" --data-urlencode "challenge_hex=$challenge"
                  --data-urlencode "certificate_pem@$run/card/user.pem"
                  --data-urlencode "signature_hex=$(card_sign auth "$challenge" "$auth_pin")")
    if [ -n "$consent" ]; then
        fields+=(--data-urlencode "consent_hex=$consent" --data-urlencode "consent_certificate_pem@$run/card/signature.pem"
                 --data-urlencode "consent_signature_hex=$(card_sign sign "$consent" "$sign_pin")")
    fi
    portal POST "$1" "${fields[@]}"
}
# page_text: the page's main text, one line per block (what a reader of the page sees).
page_text() {
    python3 - "$portal_page" <<'PY'
import html.parser, sys
class T(html.parser.HTMLParser):
    def __init__(s): super().__init__(); s.out = [""]; s.skip = 0; s.main = False
    def handle_starttag(s, tag, a):
        if tag == "main": s.main = True
        if tag in ("p", "tr", "h1", "h2", "li", "caption", "br"): s.out.append("")
        if tag in ("td", "th"): s.out[-1] += " | "
    def handle_endtag(s, tag):
        if tag == "main": s.main = False
    def handle_data(s, d):
        if s.main: s.out[-1] += " ".join(d.split()) + ("" if d.endswith(" ") is False else " ")
t = T(); t.feed(open(sys.argv[1], encoding="utf-8").read())
for line in t.out:
    line = line.strip(" |")
    if line: print("    " + line)
PY
}

# log_rows: the access-log table of the page now in $portal_page, one line per entry: time,
# requester, provider, purpose (BP-ID), information type, outcome, position in the signed log.
log_rows() {
    python3 - "$portal_page" <<'PY'
import html.parser, sys
class T(html.parser.HTMLParser):
    def __init__(s): super().__init__(); s.rows = []; s.cell = None; s.cls = ""
    def handle_starttag(s, tag, a):
        a = dict(a)
        if tag == "tr" and a.get("class") == "entry": s.rows.append({})
        elif tag == "td" and s.rows: s.cls = a.get("class", ""); s.cell = []
        elif tag == "span" and a.get("class") == "code" and s.cell is not None: s.cell.append("\0")
    def handle_endtag(s, tag):
        if tag == "td" and s.cell is not None:
            s.rows[-1][s.cls] = "".join(s.cell); s.cell = None
    def handle_data(s, d):
        if s.cell is not None: s.cell.append(d)
t = T(); t.feed(open(sys.argv[1], encoding="utf-8").read())
def code(v): return v.split("\0")[-1].split()[0] if "\0" in v else v.strip()
for r in t.rows:
    print("    %s  %-9s -> %-9s %-34s %-28s %s" % (r.get("time", "").strip(), code(r.get("requester", "")), code(r.get("provider", "")),
          code(r.get("purpose", "")), r.get("info-type", "").strip(), r.get("outcome", "").strip()))
PY
}

# Chapter 8 (before the move of chapter 9, which revokes the signature certificate): account opening.
portal_open() {
    bold "8. He opens his My Portal account with the card: signature PIN = consent, user PIN = login"
    : > "$portal_jar"
    portal GET /open
    [ "$pstatus" = 200 ] || fail "GET /open: HTTP $pstatus"
    step portal "GET /open: a link consent for PORTAL and a login challenge, with the form's CSRF token"
    card_form /open
    if [ "$pstatus" = 303 ]; then
        step card "linkcore-card sign --app sign (the consent, signature PIN), --app auth (the challenge, user PIN)"
        step portal "POST /open -> 303 $plocation: the matcher found him by his signature certificate; LP bound"
    else
        # A re-run: the account of an earlier run is open already (the same card, another key pair
        # after the renewal): the page says so; the login of the last chapter follows the history.
        step portal "POST /open -> HTTP $pstatus: $(page_text | head -3 | sed -n '2p' | sed 's/^ *//')"
    fi
}

# The last chapter: a later login with the user certificate, and the log page.
portal_read_log() {
    bold "10. 鈴木 一郎 logs in to My Portal with his card and reads who was given his information"
    : > "$portal_jar"
    portal GET /login
    [ "$pstatus" = 200 ] || fail "GET /login: HTTP $pstatus"
    card_form /login
    [ "$pstatus" = 303 ] || { page_text >&2; fail "POST /login: HTTP $pstatus"; }
    step portal "GET /login, linkcore-card sign --app auth (user PIN), POST /login -> 303 $plocation (a new session)"
    portal GET /log
    [ "$pstatus" = 200 ] || fail "GET /log: HTTP $pstatus"
    step portal "GET /log (情報提供等記録): the rows of the page's table, newest first (Japan time):"
    log_rows
    local entries
    entries="$(grep -c 'class="entry"' "$portal_page" || true)"
    [ "$entries" -ge 4 ] || fail "the log page shows $entries entries, fewer than the questions asked"
    portal GET /links
    step portal "GET /links (連携している機関): $(grep -c 'class="holder"' "$portal_page" || true) organisations hold a link for him (never the codes)"
    portal POST /logout --data-urlencode "csrf_token=$(portal GET /home >/dev/null; attr value 'name="csrf_token"')"
}
