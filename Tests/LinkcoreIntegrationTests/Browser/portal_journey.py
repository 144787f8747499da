#!/usr/bin/python3
"""The whole resident journey through My Portal in headless Chromium, through the resident's
linkcore-card helper (issue 15, items 7 and 8). Extends portal_login.py (its browser and its
helper step) rather than copying it.

    portal_journey.py CONFIG_JSON RESULT_FILE

CONFIG_JSON names: portal, rp (the demo relying party), profile (Chromium user-data dir), shots
(artifacts directory), sign_pin, auth_pin, database (the portal's SQLite file, to age the sessions
for the expired-cookie attack), adapter {url, token, ask: {...POST /ask body}, notice: {...POST
/notices body}}, secrets (strings that must appear in no URL: link codes, serials, person ids),
other_notice_id (optional: a notice of another resident).

Steps: account opening by card (/open: signature PIN then user PIN in the helper's windows) →
a mediation made now through the adapter (POST /ask) read on /log → a notice sent through the
adapter (POST /notices) arriving in /folder → suspend, the card refused, resume with the signature
certificate → SSO into the relying party (the consent page) and its PENSION01 answer. Attacks: a
forged and an expired session cookie, a form without its CSRF token, another resident's notice id,
and every URL/href/form action of the journey checked for resident identifiers. Every page: one h1,
headings in order, lang, labels, table captions and th scope, no horizontal scroll at 390x844, the
language switch, a visible focus ring. A screenshot of every page at 390x844 (and some at
1280x900). Waits on conditions only, no sleeps. Writes the result as JSON; exits 1 on a failure.
"""
import json, os, traceback, sqlite3, sys, time, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from portal_login import Run, WAIT, browser  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402

TITLES = {  # the Japanese h1 of the pages the journey expects (PortalStrings*.swift)
    "ended": "ログインしていません", "csrf": "フォームを受け付けられませんでした", "not_found": "お知らせが見つかりません",
    "suspended": "アカウントは一時停止中です", "suspended_done": "アカウントを一時停止しました",
    "oidc_login": "先にマイポータルにログインしてください",
    "pending_gone": "このサービスへのログインの手続は終わっているか、期限が切れました",
}

A11Y = r"""
const out = [];
const h1 = document.querySelectorAll('h1').length;
if (h1 !== 1) out.push('h1 count ' + h1);
let last = 0;
for (const h of document.querySelectorAll('h1,h2,h3,h4,h5,h6')) {
  const n = +h.tagName[1]; if (n > last + 1) out.push('heading skips to ' + h.tagName + ': ' + h.textContent.trim()); last = n;
}
if (!document.documentElement.lang) out.push('no lang');
for (const c of document.querySelectorAll('input:not([type=hidden]),select,textarea')) {
  const labelled = (c.id && document.querySelector('label[for="' + c.id + '"]')) || c.closest('label') || c.getAttribute('aria-label');
  if (!labelled) out.push('unlabelled ' + c.outerHTML.slice(0, 80));
}
for (const t of document.querySelectorAll('table')) {
  if (!t.querySelector('caption')) out.push('table without caption #' + t.id);
  for (const th of t.querySelectorAll('th')) if (!th.getAttribute('scope')) { out.push('th without scope in #' + t.id); break; }
}
if (document.documentElement.scrollWidth > window.innerWidth) out.push('horizontal scroll ' + document.documentElement.scrollWidth + ' > ' + window.innerWidth);
return out;
"""


class Journey(Run):
    def __init__(self, driver, shots, config):
        super().__init__(driver, shots)
        self.config = config
        self.result.update({"urls": [], "a11y": {}, "attacks": {}, "failures": []})

    def check(self, ok, what):
        if not ok:
            self.result["failures"].append(what)

    def page(self, name, desktop=False):
        """portal_login's page (h1, screenshot) plus the a11y checks and the URLs the page names."""
        d = self.driver
        h1 = super().page(name)
        if d.current_url.startswith(self.config["portal"]):
            problems = d.execute_script(A11Y)
            # The language switch (hreflang) on every page but the relying party's.
            if not d.find_elements(By.CSS_SELECTOR, "a[hreflang]"):
                problems.append("no language switch")
            # Visible focus: the first link focused by the keyboard has an outline.
            d.find_element(By.TAG_NAME, "body").send_keys("\t")
            focused = d.execute_script("const e = document.activeElement; const s = getComputedStyle(e);"
                                       "return e === document.body ? 'body' : s.outlineStyle + ' ' + s.outlineWidth")
            if focused == "body" or focused.startswith("none"):
                problems.append("no visible focus (%s)" % focused)
            d.execute_script("document.activeElement.blur()")  # the screenshots without the ring
            self.result["a11y"][name] = problems
            self.check(not problems, "%s: %s" % (name, problems))
        self.result["urls"].append(d.current_url)
        self.result["urls"] += d.execute_script(
            "return [...document.querySelectorAll('a[href]')].map(a => a.href)"
            ".concat([...document.querySelectorAll('form')].map(f => f.action))")
        if desktop:
            d.set_window_size(1280, 900)
            self.shot(name + "-desktop")
            d.set_window_size(390, 844)
        return h1

    def click(self, element):
        """Clicks and waits for the next page (the old one's html element goes stale)."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        element.click()
        self.wait.until(EC.staleness_of(old))

    def adapter(self, path, body):
        a = self.config["adapter"]
        request = urllib.request.Request(a["url"] + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json", "Authorization": "Bearer " + a["token"]})
        with urllib.request.urlopen(request, timeout=WAIT) as answer:
            return json.load(answer)

    def until(self, what, condition):
        """Polls condition() (reloading pages is its business) until it is truthy, within WAIT."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
        raise AssertionError("timed out: " + what)

    def card(self, path, steps, name):
        d = self.driver
        d.get(self.config["portal"] + path)
        self.page(name, desktop=(name == "login"))
        main = d.current_window_handle
        self.wait.until(EC.element_to_be_clickable((By.ID, "card-start"))).click()
        for pin, step in steps:
            self.card_step(main, pin, step)

    def journey(self):
        d, c, portal = self.driver, self.config, self.config["portal"]
        d.get(portal + "/")
        self.page("landing", desktop=True)
        d.get(portal + "/login")
        self.page("login", desktop=True)
        # Account opening by card (a re-run of the demo: the same page binds the card again).
        self.card("/open", [(c["sign_pin"], "consent"), (c["auth_pin"], "open-login")], "open")
        self.wait.until(EC.url_contains("/account"))
        self.page("account", desktop=True)

        # A real mediation, made now through the adapter, then read on the log page.
        asked = self.adapter("/ask", c["adapter"]["ask"])
        self.result["mediation_id"] = asked.get("mediation_id", "")

        def log_shows():
            d.get(portal + "/log")
            return c["adapter"]["ask"]["bp_id"] in d.find_element(By.ID, "access-log").text
        self.until("the mediation on /log", log_shows)
        self.page("log", desktop=True)
        self.result["log_rows"] = len(d.find_elements(By.CSS_SELECTOR, "tr.entry"))
        d.get(portal + "/links")
        self.page("links")

        # A notice through the adapter's POST /notices, arriving in the folder.
        notice = dict(c["adapter"]["notice"], idempotency_key="journey-%d" % time.time_ns())
        self.adapter("/notices", notice)

        def folder_shows():
            d.get(portal + "/folder")
            return notice["title"] in d.find_element(By.TAG_NAME, "main").text
        self.until("the notice in /folder", folder_shows)
        self.page("folder", desktop=True)
        link = d.find_element(By.PARTIAL_LINK_TEXT, notice["title"])
        own_id = link.get_attribute("href").split("id=", 1)[1]
        self.click(link)
        self.page("notice")
        self.result["notice_text"] = d.find_element(By.TAG_NAME, "main").text

        # Attack: another resident's notice id gets the same page as an unknown id.
        d.get(portal + "/folder/notice?id=nt-00000000000000000000000000000000")
        unknown = self.page("notice-unknown")
        other = c.get("other_notice_id") or "nt-" + own_id[3:][::-1]
        d.get(portal + "/folder/notice?id=" + other)
        others = self.page("notice-other")
        self.result["attacks"]["other_notice"] = [unknown, others]
        self.check(unknown == others == TITLES["not_found"], "another's notice: %s / %s" % (unknown, others))

        # Attack: a form posted without its CSRF token (the suspend form, its hidden field removed).
        d.get(portal + "/account")
        d.execute_script("document.querySelector('form[action=\"/account/suspend\"] input[name=csrf_token]').remove()")
        self.click(d.find_element(By.ID, "suspend"))
        csrf = self.page("csrf-refused")
        self.result["attacks"]["no_csrf"] = csrf
        self.check(csrf == TITLES["csrf"], "no CSRF: " + csrf)

        # Suspend, the card refused while suspended, resume with the signature certificate.
        d.get(portal + "/account")
        self.click(d.find_element(By.ID, "suspend"))
        self.check(self.page("suspended") == TITLES["suspended_done"], "suspend")
        self.card("/login", [(c["auth_pin"], "login-suspended")], "login-again")
        self.wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), TITLES["suspended"]))
        self.page("login-refused-suspended")
        self.card("/open", [(c["sign_pin"], "resume-consent"), (c["auth_pin"], "resume-login")], "resume")
        self.wait.until(EC.url_contains("/account"))
        self.page("resumed")
        self.result["account_events"] = d.find_element(By.ID, "account-events").text

        # Attack: a forged session cookie, then an expired one (the sessions aged past the 8 h
        # absolute timeout in the portal's file): the logged-out page each time.
        session = d.get_cookie("__Host-session")
        d.delete_cookie("__Host-session")
        d.add_cookie({"name": "__Host-session", "value": "A" * 43, "path": "/", "secure": True, "httpOnly": True, "sameSite": "Strict"})
        d.get(portal + "/home")
        forged = self.page("forged-cookie")
        d.delete_cookie("__Host-session")
        # A __Host- cookie may carry no Domain: set again with the attributes the portal gave it.
        d.add_cookie({"name": "__Host-session", "value": session["value"], "path": "/", "secure": True, "httpOnly": True,
                      "sameSite": "Strict"})
        with sqlite3.connect(c["database"], timeout=WAIT) as db:
            db.execute("UPDATE sessions SET created_at_ms = created_at_ms - 9 * 3600 * 1000 WHERE lp_link_code IS NOT NULL")
        d.get(portal + "/home")
        expired = self.page("expired-cookie")
        self.result["attacks"]["cookies"] = [forged, expired]
        self.check(forged == expired == TITLES["ended"], "cookies: %s / %s" % (forged, expired))

        # SSO into the relying party, starting logged out (the expired cookie above): the RP, the
        # portal asks for the card login, and the login itself continues to the consent page of
        # that same request (its parameters kept by the portal), then the answer.
        d.get(c["rp"])
        self.wait.until(EC.element_to_be_clickable((By.ID, "signin")))
        self.page("rp-start")
        self.click(d.find_element(By.ID, "signin"))
        self.wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), TITLES["oidc_login"]))
        self.page("sso-login-first")
        self.click(d.find_element(By.CSS_SELECTOR, "main a[href='/login']"))
        self.wait.until(EC.element_to_be_clickable((By.ID, "card-start")))
        self.page("sso-login")
        main = d.current_window_handle
        d.find_element(By.ID, "card-start").click()
        self.card_step(main, c["auth_pin"], "sso-login")
        allow = self.wait.until(EC.element_to_be_clickable((By.ID, "allow")))
        self.result["consent_url"] = d.current_url
        self.check(d.current_url.endswith("/oidc/continue"), "after the login: " + d.current_url)
        self.page("consent", desktop=True)
        self.click(d.find_element(By.ID, "allow"))
        answer = self.wait.until(EC.presence_of_element_located((By.ID, "result")))
        self.result["rp_result"] = answer.text
        self.page("rp-answer")
        # The continue was single-use: opened again, it is a page that says so, not a redirect.
        d.get(portal + "/oidc/continue")
        again = self.page("continue-again")
        self.result["attacks"]["continue_again"] = again
        self.check(again == TITLES["pending_gone"] and d.current_url.startswith(portal), "continue again: " + again)

        # No resident identifier in any URL the journey visited or any page named.
        self.result["urls"] = sorted(set(u for u in self.result["urls"] if u))
        leaks = [u for u in self.result["urls"] for s in c["secrets"] if s and s.lower() in u.lower()]
        self.result["attacks"]["url_leaks"] = leaks
        self.check(not leaks, "identifiers in URLs: %s" % leaks)
        return self.result


def main():
    config = json.load(open(sys.argv[1]))
    result_file = sys.argv[2]
    os.makedirs(config["shots"], exist_ok=True)
    driver = browser(config["profile"])
    driver.set_window_size(390, 844)
    run = Journey(driver, config["shots"], config)
    status = 0
    try:
        run.journey()
        if run.result["failures"]:
            sys.stderr.write("failures: %s\n" % json.dumps(run.result["failures"], ensure_ascii=False))
            status = 1
    except Exception as error:  # report what the browser showed at the failure
        try:
            shown = "URL %s\n%s" % (driver.current_url, driver.page_source[:4000])
            run.shot("failure")
        except Exception as gone:
            shown = "(the browser is gone: %r)" % gone
        # Selenium's exceptions keep their message out of repr(): print both, and where it failed.
        sys.stderr.write("%r: %s\n%s\n%s\n%s\n" % (error, error, traceback.format_exc(limit=6), json.dumps(run.result, ensure_ascii=False), shown))
        status = 1
    finally:
        driver.quit()
        with open(result_file, "w") as out:
            json.dump(run.result, out, ensure_ascii=False)
    return status


if __name__ == "__main__":
    sys.exit(main())
