#!/usr/bin/env python3
"""CITY01's online child-allowance application (児童手当オンライン申請): a demo relying party of
My Portal's OpenID Connect provider (docs/portal.md, "Sign in to other services").

The resident signs in through the portal (authlib's Flask client: discovery, code flow with PKCE
S256, nonce, ID token checked against the portal's JWKS). The ID token's `sub` is CITY01's OWN
link code for the resident: the app stores it in CITY01's adapter (POST /links/signin) under a
person ID of its own, and then asks PENSION01 through that adapter (POST /ask), with no number
typed anywhere. See README.md beside this file.
"""
import argparse
import hashlib
import html
import json
import os
import secrets
import urllib.error
import urllib.request

from authlib.integrations.flask_client import OAuth
from flask import Flask, redirect, request, session, url_for

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--portal", required=True, help="the portal's issuer, e.g. https://localhost:8443")
parser.add_argument("--client-id", default="city01-child-allowance")
parser.add_argument("--client-secret-file", required=True, help="file holding the client secret (mode 0600)")
parser.add_argument("--adapter", required=True, help="CITY01's adapter local API, e.g. http://127.0.0.1:8481")
parser.add_argument("--adapter-token-file", required=True, help="the adapter's api-token file")
parser.add_argument("--listen", type=int, default=8600, help="port on 127.0.0.1")
parser.add_argument("--provider", default="PENSION01")
parser.add_argument("--bp-id", default="BP-CHILD-ALLOWANCE")
parser.add_argument("--info-type", default="pension-status")
args = parser.parse_args()

app = Flask(__name__)
app.secret_key = secrets.token_bytes(32)
app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
oauth = OAuth(app)
oauth.register(
    "portal",
    client_id=args.client_id,
    client_secret=open(args.client_secret_file).read().strip(),
    server_metadata_url=args.portal + "/.well-known/openid-configuration",
    client_kwargs={"scope": "openid", "code_challenge_method": "S256"},
)


def page(title, body, status=200):
    return (f"""<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.7}}
.button{{display:inline-block;padding:.6rem 1.2rem;background:#2d6a2d;color:#fff;text-decoration:none;border-radius:.3rem}}</style>
</head><body><header><p>CITY01 市役所 — 児童手当オンライン申請</p></header><main>
<h1>{html.escape(title)}</h1>{body}</main></body></html>""", status, {"Content-Type": "text/html; charset=utf-8"})


def adapter(path, body):
    token = open(args.adapter_token_file).read().strip()
    req = urllib.request.Request(args.adapter + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


@app.get("/")
def index():
    return page("児童手当の申請", """<p>マイナンバーカードでマイポータルにログインしていれば、ここからそのまま申請できます。
番号や住所を入力する必要はありません。</p><p><a class="button" id="signin" href="/login">マイポータルでログイン</a></p>""")


@app.get("/login")
def login():
    return oauth.portal.authorize_redirect(url_for("callback", _external=True))


@app.get("/callback")
def callback():
    if request.args.get("error"):
        return page("ログインできませんでした", f"<p>マイポータルからの応答: {html.escape(request.args['error'])}</p>"
                    '<p><a href="/">最初からやり直す</a></p>', 400)
    token = oauth.portal.authorize_access_token()  # checks state, PKCE, and the ID token (JWKS, iss, aud, nonce, exp)
    sub = token["userinfo"]["sub"]  # CITY01's own link code for the resident
    # The app's own person ID for the resident: derived from the code, never the code itself.
    person = "web-" + hashlib.sha256(sub.encode()).hexdigest()[:16]
    status, stored = adapter("/links/signin", {"person_id": person, "link_code": sub, "consent_ref": f"oidc-{token['userinfo']['iat']}"})
    if status != 201:
        return page("申請を続けられません", f"<p>{html.escape(json.dumps(stored, ensure_ascii=False))}</p>", 502)
    status, answer = adapter("/ask", {"person_id": person, "bp_id": args.bp_id, "provider_org": args.provider,
                                      "info_type": args.info_type})
    if status != 200:
        error = answer.get("error", {})
        return page("照会できませんでした", f"<p id=\"result\">{html.escape(error.get('code', str(status)))}: "
                    f"{html.escape(error.get('message', ''))}</p>", 502)
    session["person"] = person
    return page("申請の内容", f"""<p>マイポータルでの本人確認が済みました。</p>
<p>{html.escape(args.provider)}（年金）への照会結果:</p><p id="result"><strong>{html.escape(str(answer.get('answer', '')))}</strong></p>
<p>照会番号: {html.escape(answer.get('mediation_id', ''))}（この照会はマイポータルの情報提供等記録に残ります）</p>""")


if __name__ == "__main__":
    print(f"demo-rp http://127.0.0.1:{args.listen}", flush=True)
    app.run(host="127.0.0.1", port=args.listen)
