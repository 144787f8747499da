#!/usr/bin/python3
"""Drives headless Chromium through My Portal's account opening and a later login with the card,
through the resident's linkcore-card helper (Selenium).

    portal_login.py PORTAL_URL USER_DATA_DIR RESULT_FILE SHOTS_DIR SIGN_PIN AUTH_PIN

Opens the account (/open: the consent signed with the signature PIN, then the login with the
user PIN, each typed in the helper's own window), logs out, logs in again (/login), and saves a
screenshot of every page in SHOTS_DIR. Writes one JSON object to RESULT_FILE (what the browser
showed) for the Swift test to check. Every wait is a WebDriverWait on a condition, no sleeps.
"""
import json, os, traceback, sys
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 90  # seconds: generous for a busy 2-core machine


def browser(user_data_dir):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    # The portal's certificate is the test CA's, which this throwaway profile does not trust;
    # curl checks the certificate against that CA in the other tests.
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--ignore-certificate-errors",
                "--user-data-dir=" + user_data_dir, "--no-first-run", "--disable-extensions", "--window-size=1000,1200"]:
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)


class Run:
    def __init__(self, driver, shots):
        self.driver, self.shots, self.wait = driver, shots, WebDriverWait(driver, WAIT)
        self.result = {"pages": [], "pin_pages": [], "screenshots": []}

    def shot(self, name):
        path = os.path.join(self.shots, "%02d-%s.png" % (len(self.result["screenshots"]) + 1, name))
        self.driver.save_screenshot(path)
        self.result["screenshots"].append(path)

    def page(self, name):
        h1 = self.wait.until(EC.presence_of_element_located((By.TAG_NAME, "h1"))).text
        self.result["pages"].append({"name": name, "url": self.driver.current_url, "h1": h1})
        self.shot(name)
        return h1

    def card_step(self, main, pin, name):
        """The helper's window opens; the PIN is typed there; the window is closed after signing."""
        self.wait.until(EC.number_of_windows_to_be(2))
        window = next(h for h in self.driver.window_handles if h != main)
        self.driver.switch_to.window(window)
        service = self.wait.until(EC.presence_of_element_located((By.ID, "service"))).text
        title = self.driver.find_element(By.TAG_NAME, "h1").text
        self.result["pin_pages"].append({"url": self.driver.current_url, "service": service, "h1": title})
        self.shot(name + "-pin")
        field = self.wait.until(EC.element_to_be_clickable((By.ID, "pin")))
        field.send_keys(pin)
        old = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.find_element(By.ID, "sign").click()
        self.wait.until(EC.staleness_of(old))
        self.result["pin_pages"][-1]["after"] = self.wait.until(EC.presence_of_element_located((By.ID, "title"))).text
        self.shot(name + "-signed")
        self.driver.close()
        self.driver.switch_to.window(main)

    def go(self, portal, sign_pin, auth_pin):
        d = self.driver
        d.get(portal + "/?lang=en")  # English: this machine may have no CJK font for the screenshots
        self.page("landing")
        d.get(portal + "/open")
        self.page("open")
        self.result["open_csp_script"] = d.execute_script("return document.scripts.length")
        main = d.current_window_handle
        self.wait.until(EC.element_to_be_clickable((By.ID, "card-start"))).click()
        self.card_step(main, sign_pin, "consent")
        self.card_step(main, auth_pin, "open-login")
        self.wait.until(EC.url_contains("/account"))
        self.page("account")
        self.result["account_events"] = d.find_element(By.ID, "account-events").text
        # Log out, then a later visit: the user certificate alone.
        d.find_element(By.CSS_SELECTOR, "form[action='/logout'] button").click()
        self.page("logged-out")
        d.get(portal + "/login")
        self.page("login")
        main = d.current_window_handle
        self.wait.until(EC.element_to_be_clickable((By.ID, "card-start"))).click()
        self.card_step(main, auth_pin, "login")
        self.wait.until(EC.url_contains("/home"))
        self.page("home")
        return self.result


def main():
    portal, user_data_dir, result_file, shots, sign_pin, auth_pin = sys.argv[1:7]
    driver = browser(user_data_dir)
    run = Run(driver, shots)
    try:
        result = run.go(portal, sign_pin, auth_pin)
    except Exception as error:  # report what the browser showed at the failure
        try:
            shown = "URL %s\n%s" % (driver.current_url, driver.page_source[:4000])
            run.shot("failure")
        except Exception as gone:
            shown = "(the browser is gone: %r)" % gone
        # Selenium's exceptions keep their message out of repr(): print both, and where it failed.
        sys.stderr.write("%r: %s\n%s\n%s\n%s\n" % (error, error, traceback.format_exc(limit=6), json.dumps(run.result), shown))
        return 1
    finally:
        driver.quit()
    with open(result_file, "w") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
