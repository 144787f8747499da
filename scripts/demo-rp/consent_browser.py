#!/usr/bin/python3
"""Headless Chromium (Selenium) through My Portal's consent page into the demo relying party.

    consent_browser.py RP_URL PORTAL_URL SESSION_COOKIE PORTAL_SPKI USER_DATA_DIR ARTIFACTS RESULT_FILE

The resident is logged in to the portal: the test wrote SESSION_COOKIE through Sessions, and it
is set here as the __Host-session cookie. Chromium trusts only the portal's certificate key
(PORTAL_SPKI, base64 SHA-256 of its SubjectPublicKeyInfo). Saves a screenshot of each page in
ARTIFACTS and writes what the pages showed to RESULT_FILE (JSON). Waits on conditions, no sleeps.
"""
import json
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

rp, portal, cookie, spki, profile, artifacts, result_file = sys.argv[1:8]
WAIT = 90  # seconds: generous for a busy 2-core machine

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--user-data-dir=" + profile,
            "--no-first-run", "--disable-extensions", "--window-size=390,844", "--ignore-certificate-errors-spki-list=" + spki]:
    options.add_argument(arg)
driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(driver, WAIT)
shown = {}
try:
    os.makedirs(artifacts, exist_ok=True)
    # The portal's session cookie, as the card login would have left it.
    driver.get(portal + "/static/portal.css")
    driver.add_cookie({"name": "__Host-session", "value": cookie, "path": "/", "secure": True, "httpOnly": True, "sameSite": "Strict"})

    driver.get(rp)
    wait.until(EC.element_to_be_clickable((By.ID, "signin")))
    driver.save_screenshot(os.path.join(artifacts, "1-rp-start.png"))
    driver.find_element(By.ID, "signin").click()

    allow = wait.until(EC.element_to_be_clickable((By.ID, "allow")))
    shown["consent_url_origin"] = driver.current_url.split("/oidc/")[0]
    shown["consent_title"] = driver.find_element(By.TAG_NAME, "h1").text
    shown["consent_service"] = driver.find_element(By.CSS_SELECTOR, ".service").text
    shown["consent_text"] = driver.find_element(By.TAG_NAME, "main").text
    shown["consent_url"] = driver.current_url
    driver.save_screenshot(os.path.join(artifacts, "2-portal-consent.png"))
    allow.click()

    result = wait.until(EC.presence_of_element_located((By.ID, "result")))
    shown["rp_url"] = driver.current_url
    shown["rp_title"] = driver.find_element(By.TAG_NAME, "h1").text
    shown["rp_result"] = result.text
    shown["rp_text"] = driver.find_element(By.TAG_NAME, "main").text
    driver.save_screenshot(os.path.join(artifacts, "3-rp-application.png"))
finally:
    json.dump(shown, open(result_file, "w"), ensure_ascii=False)
    driver.quit()
print("consent_browser: done")
