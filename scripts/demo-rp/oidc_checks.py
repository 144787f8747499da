#!/usr/bin/env python3
"""Checks the portal's OpenID Connect provider with a real client library no one here wrote:
authlib (OAuth 2.0 client, PKCE) and joserfc (JWS/JWT validation against the JWKS).

Run by Tests/LinkcoreIntegrationTests/PortalOIDCTests.swift against a real portal, core and
adapters. The resident's browser is played by `requests` carrying the portal's __Host-session
cookie (written by the test through Sessions): it opens the authorization URL, reads the consent
page's form and submits it. Prints one JSON object of findings; the Swift test asserts on it.

usage: oidc_checks.py ISSUER SESSION_COOKIE CLIENTS_JSON OUT_JSON
  CLIENTS_JSON: {"org": {"id", "secret", "redirect"}, "opaque": [{"id", "secret", "redirect"}, ...]}
  The portal's CA is taken from REQUESTS_CA_BUNDLE (set by the test for this process only).
"""
import json
import secrets
import sys
import time
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlparse

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.common.security import generate_token
from joserfc import jwt
from joserfc.jwk import KeySet

issuer, cookie, clients_file, out_file = sys.argv[1:5]
clients = json.load(open(clients_file))
findings = {}


class Form(HTMLParser):
    """The consent page's form: its action and hidden inputs."""

    def __init__(self):
        super().__init__()
        self.action, self.fields, self.buttons = None, {}, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "button" and a.get("name") == "decision":
            self.buttons.append(a.get("value"))


def browser():
    s = requests.Session()
    # As a header: http.cookiejar files a cookie for "localhost" under "localhost.local" and
    # would not send it back.
    s.headers["Cookie"] = "__Host-session=" + cookie
    return s


# Discovery, as the client library reads it.
meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=30).json()
findings["discovery"] = {k: meta.get(k) for k in (
    "issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "code_challenge_methods_supported",
    "id_token_signing_alg_values_supported", "subject_types_supported", "response_types_supported",
    "token_endpoint_auth_methods_supported")}
jwks = requests.get(meta["jwks_uri"], timeout=30).json()
keys = KeySet.import_key_set(jwks)


def client_session(c, **kw):
    return OAuth2Session(c["id"], c["secret"], scope="openid", redirect_uri=c["redirect"],
                         code_challenge_method="S256", **kw)


def authorize(c, consent="allow", **params):
    """The resident's side: the authorization URL (authlib makes state, PKCE), the consent page,
    the form submitted; returns (client session, verifier, nonce, Location or None, page status, page text)."""
    session = client_session(c)
    verifier = generate_token(64)
    nonce = generate_token(20)
    url, state = session.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **params)
    b = browser()
    page = b.get(url, allow_redirects=False, timeout=30)
    if page.status_code != 200:
        return session, verifier, nonce, page.headers.get("Location"), page.status_code, page.text, state
    form = Form()
    form.feed(page.text)
    fields = dict(form.fields, decision=consent)
    answer = b.post(issuer + form.action, data=fields, allow_redirects=False, timeout=30,
                    headers={"Origin": issuer})
    return session, verifier, nonce, answer.headers.get("Location"), answer.status_code, page.text, state


def validate_id_token(token, c, nonce):
    decoded = jwt.decode(token, keys, algorithms=["ES256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer}, aud={"essential": True, "value": c["id"]},
        sub={"essential": True}, nonce={"essential": True, "value": nonce},
        exp={"essential": True}, iat={"essential": True}, auth_time={"essential": True},
    ).validate(decoded.claims)
    return decoded


def token_error(session, location, verifier, **kw):
    try:
        session.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier, **kw)
        return None
    except Exception as e:  # authlib raises OAuthError with .error
        return getattr(e, "error", None) or str(e)


org = clients["org"]

# 1. The whole flow, code + PKCE, the ID token validated against the JWKS.
session, verifier, nonce, location, status, page, state = authorize(org)
if not location or "code=" not in location:
    sys.exit(f"no code: status {status}, Location {location}\n{page[:2000]}")
findings["consent_page_names_service"] = "児童手当" in page and "リンクコード" in page
findings["redirect_status"] = status
q = parse_qs(urlparse(location).query)
findings["redirect_has_iss"] = q.get("iss") == [issuer]
findings["redirect_state_matches"] = q.get("state") == [state]
token = session.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier)
claims = validate_id_token(token["id_token"], org, nonce)
findings["id_token"] = {"alg": claims.header["alg"], "kid": claims.header.get("kid"), "sub": claims.claims["sub"],
                        "aud": claims.claims["aud"], "iss": claims.claims["iss"],
                        "exp_after_iat": claims.claims["exp"] > claims.claims["iat"], "nonce_ok": claims.claims["nonce"] == nonce}
ui = requests.get(meta["userinfo_endpoint"], headers={"Authorization": "Bearer " + token["access_token"]}, timeout=30)
findings["userinfo_sub"] = ui.json().get("sub")

# A tampered token fails validation (the signature is checked, not decoration).
head, body, sig = token["id_token"].split(".")
try:
    validate_id_token(".".join([head, body, sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")]), org, nonce)
    findings["tampered_rejected"] = False
except Exception:
    findings["tampered_rejected"] = True
# The wrong nonce fails the claims check.
try:
    validate_id_token(token["id_token"], org, "another-nonce")
    findings["wrong_nonce_rejected"] = False
except Exception:
    findings["wrong_nonce_rejected"] = True

# 2. The same code again: refused, and the access token it issued is revoked.
findings["replay_error"] = token_error(client_session(org), location, verifier)
ui2 = requests.get(meta["userinfo_endpoint"], headers={"Authorization": "Bearer " + token["access_token"]}, timeout=30)
findings["userinfo_after_replay"] = ui2.status_code

# 3. A redirect URI that is not registered: a page, no redirect.
bad = dict(org, redirect=org["redirect"] + "/evil")
_, _, _, loc, st, text, _ = authorize(bad)
findings["wrong_redirect"] = {"status": st, "location": loc}

# 4. The wrong client secret: invalid_client, and the code is still good for the real client.
session, verifier, nonce, location, _, _, _ = authorize(org)
findings["wrong_secret_error"] = token_error(client_session(dict(org, secret="not-the-secret")), location, verifier)
findings["after_wrong_secret_ok"] = token_error(session, location, verifier) is None

# 5. Without the PKCE verifier, and with another verifier: invalid_grant.
session, verifier, nonce, location, _, _, _ = authorize(org)
code = parse_qs(urlparse(location).query)["code"][0]
r = requests.post(meta["token_endpoint"], auth=(org["id"], org["secret"]), timeout=30,
                  data={"grant_type": "authorization_code", "code": code, "redirect_uri": org["redirect"]})
findings["missing_verifier"] = {"status": r.status_code, "error": r.json().get("error")}
session, verifier, nonce, location, _, _, _ = authorize(org)
findings["wrong_verifier_error"] = token_error(session, location, generate_token(64))

# 6. An authorization request without PKCE: invalid_request sent back to the registered URI.
session = OAuth2Session(org["id"], org["secret"], scope="openid", redirect_uri=org["redirect"])
url, state = session.create_authorization_url(meta["authorization_endpoint"], nonce="n")
loc = browser().get(url, allow_redirects=False, timeout=30).headers.get("Location", "")
findings["no_pkce_error"] = parse_qs(urlparse(loc).query).get("error", [None])[0]

# 7. The resident says no: access_denied.
_, _, _, loc, _, _, _ = authorize(org, consent="deny")
findings["deny_error"] = parse_qs(urlparse(loc).query).get("error", [None])[0]

# 8. Relying parties that are not network organisations: an opaque sub, different per client.
subs = []
for c in clients["opaque"]:
    session, verifier, nonce, location, _, page, _ = authorize(c)
    t = session.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier)
    subs.append(validate_id_token(t["id_token"], c, nonce).claims["sub"])
    findings.setdefault("opaque_consent_mentions_link_code", False)
    findings["opaque_consent_mentions_link_code"] |= "リンクコード" in page
# The same client twice: the same sub (pairwise is stable).
c = clients["opaque"][0]
session, verifier, nonce, location, _, _, _ = authorize(c)
t = session.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier)
subs.append(validate_id_token(t["id_token"], c, nonce).claims["sub"])
findings["opaque_subs"] = subs

json.dump(findings, open(out_file, "w"), ensure_ascii=False, indent=1)
print("oidc_checks: done")
