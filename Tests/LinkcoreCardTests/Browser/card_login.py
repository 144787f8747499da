#!/usr/bin/python3
"""Drives headless Chromium through a card login with the linkcore-card helper (Selenium).

    card_login.py login   SERVICE_URL USER_DATA_DIR RESULT_FILE PIN [PIN ...]   # the last PIN is the right one
    card_login.py refused SERVICE_URL USER_DATA_DIR RESULT_FILE

Writes one JSON object to RESULT_FILE (what the browser showed) for the Swift test to check; exits
non-zero with a message on stderr when a step does not happen. Every wait is a WebDriverWait on a
condition, no sleeps.
"""
import json, sys
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 60  # seconds: generous for a busy 2-core machine


def browser(user_data_dir):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--user-data-dir=" + user_data_dir, "--no-first-run", "--disable-extensions"]:
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)


def text_present(locator):
    """The element exists and has non-empty text."""
    def check(driver):
        found = driver.find_elements(*locator)
        return found[0].text if found and found[0].text.strip() else False
    return check


def login(driver, url, pins):
    wait = WebDriverWait(driver, WAIT)
    driver.get(url)
    main = driver.current_window_handle
    wait.until(EC.element_to_be_clickable((By.ID, "login"))).click()
    wait.until(EC.number_of_windows_to_be(2))
    pin_window = next(h for h in driver.window_handles if h != main)
    driver.switch_to.window(pin_window)
    shown = {
        "pin_url": None,
        "origin": wait.until(text_present((By.ID, "origin"))),
        "service": wait.until(text_present((By.ID, "service"))),
        "expires": wait.until(text_present((By.ID, "expires"))),
        "errors": [],
    }
    shown["pin_url"] = driver.current_url
    for i, pin in enumerate(pins):
        field = wait.until(EC.element_to_be_clickable((By.ID, "pin")))
        field.clear()
        field.send_keys(pin)
        old = driver.find_element(By.TAG_NAME, "html")
        driver.find_element(By.ID, "sign").click()
        wait.until(EC.staleness_of(old))  # the form's answer replaced the page
        if i < len(pins) - 1:
            shown["errors"].append(wait.until(text_present((By.ID, "error"))))
        else:
            shown["result"] = wait.until(text_present((By.ID, "title")))
            shown["message"] = wait.until(text_present((By.ID, "message")))
    driver.switch_to.window(main)
    shown["signature_hex"] = wait.until(text_present((By.ID, "signature")))
    shown["certificate_pem"] = driver.find_element(By.ID, "certificate").text + "\n"
    return shown


def refused(driver, url):
    wait = WebDriverWait(driver, WAIT)
    driver.get(url)
    wait.until(EC.element_to_be_clickable((By.ID, "login"))).click()
    error = wait.until(text_present((By.ID, "error")))
    return {"error": error, "windows": len(driver.window_handles)}


def main():
    mode, url, user_data_dir, result_file = sys.argv[1:5]
    driver = browser(user_data_dir)
    try:
        result = login(driver, url, sys.argv[5:]) if mode == "login" else refused(driver, url)
    except Exception as error:  # report what the browser showed at the failure
        try:
            shown = "URL %s\n%s" % (driver.current_url, driver.page_source[:4000])
        except Exception as gone:
            shown = "(the browser is gone: %r)" % gone
        sys.stderr.write("%s: %r\n%s\n" % (mode, error, shown))
        return 1
    finally:
        driver.quit()
    with open(result_file, "w") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
