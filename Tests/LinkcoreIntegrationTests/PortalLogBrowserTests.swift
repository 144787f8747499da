import Foundation
import LinkcorePortal
import Testing

/// The log page and the folder in headless Chromium (python3-selenium, as the card helper's
/// browser test): a notice carrying `<script>` and an `onerror` image arrives through CITY01's
/// adapter; the browser reads the log page and the folder and opens the notice. Nothing runs (no
/// alert, no script or image element in the notice), and the markup shows as text. Screenshots
/// go to a temporary artifacts directory whose path the test prints.
@Suite(.serialized) struct PortalLogBrowserTests {
    static let python = "/usr/bin/python3"

    @Test func aBrowserReadsTheLogAndAnXSSNoticeAsText() async throws {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver", Self.python] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw TestFailure("\(tool) is missing: run ./scripts/deps.sh (chromium chromium-driver python3-selenium)")
        }
        let temp = try TempDirectory()
        let s = try await PortalFolderTests.setUp(temp: temp)
        defer { s.stop() }
        let notice: [String: Any] = ["person_id": "C-1", "notice_type": "tax-reminder", "title": PortalFolderTests.xssTitle,
                                     "body": PortalFolderTests.xssBody, "idempotency_key": "xss-1"]
        let (status, sent) = try await s.city.call("POST", "/notices", notice)
        #expect(status == 201, "\(sent)")
        let id = try #require(sent["notice_id"] as? String)
        try await waitFor("the notice did not reach the folder\n\(s.portal.log)") { () -> Bool? in
            PortalFolderTests.noticeIDs(try await s.portal.curl("/folder", cookies: s.cookie).body) == [id] ? true : nil
        }

        // Chromium trusts the portal's certificate by its key alone (no CA installed in a profile).
        let certificate = s.portal.pki.path("portal-https.pem")
        let spki = try await runToExit("/bin/sh", ["-c",
            "openssl x509 -in '\(certificate)' -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | openssl base64"],
            outputDirectory: temp.url).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let artifacts = FileManager.default.temporaryDirectory.appendingPathComponent("portal-browser-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        print("PortalLogBrowserTests: screenshots in \(artifacts.path)")
        let script = temp.url.appendingPathComponent("portal_pages.py").path
        try Self.script.write(toFile: script, atomically: true, encoding: .utf8)
        let sessionID = try #require(s.cookie[Sessions.cookieName])
        let result = artifacts.appendingPathComponent("result.json").path
        let run = try await runToExit(Self.python, [script, s.portal.url, sessionID, spki, artifacts.path, result, id],
                                      environment: ["PATH": "/usr/bin:/bin", "HOME": temp.url.path], outputDirectory: temp.url,
                                      timeout: .seconds(240))
        guard run.status == 0, let data = FileManager.default.contents(atPath: result),
              let shown = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TestFailure("portal_pages.py exited \(run.status):\n\(run.output)")
        }
        // The log page: alice's entries, the notice among them, with the columns' headings.
        #expect((shown["log_rows"] as? Int ?? 0) >= 1)
        #expect((shown["log_headings"] as? [String])?.contains("日時（日本時間）") == true)
        // The folder and the notice: markup shown as text, nothing executed.
        #expect(shown["folder_title"] as? String == PortalFolderTests.xssTitle)
        #expect(shown["alert"] as? Bool == false)
        #expect(shown["notice_scripts"] as? Int == 0)
        #expect(shown["notice_images"] as? Int == 0)
        #expect((shown["notice_text"] as? String)?.contains("<script>alert('xss')</script>") == true)
        #expect(shown["page_errors"] as? [String] == [])
        for name in ["log.png", "folder.png", "notice.png"] {
            #expect(FileManager.default.fileExists(atPath: artifacts.appendingPathComponent(name).path), "\(name)")
        }
    }

    /// portal_pages.py PORTAL_URL SESSION_ID SPKI_SHA256_BASE64 ARTIFACTS RESULT NOTICE_ID. Every
    /// wait is a WebDriverWait on a condition; no sleeps.
    static let script = #"""
        import json, sys
        from selenium import webdriver
        from selenium.common.exceptions import NoAlertPresentException
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC
        from selenium.webdriver.support.ui import WebDriverWait

        url, session, spki, artifacts, result, notice_id = sys.argv[1:7]
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                    "--disable-extensions", "--window-size=1280,1600", "--ignore-certificate-errors-spki-list=" + spki]:
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
        wait = WebDriverWait(driver, 60)
        shown = {}
        try:
            driver.get(url + "/health")
            driver.add_cookie({"name": "__Host-session", "value": session, "path": "/", "secure": True,
                               "httpOnly": True, "sameSite": "Strict"})
            driver.get(url + "/log")
            wait.until(EC.presence_of_element_located((By.ID, "access-log")))
            shown["log_rows"] = len(driver.find_elements(By.CSS_SELECTOR, "#access-log tr.entry"))
            shown["log_headings"] = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#access-log th")]
            driver.save_screenshot(artifacts + "/log.png")

            driver.get(url + "/folder")
            link = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#folder a")))
            shown["folder_title"] = link.text
            driver.save_screenshot(artifacts + "/folder.png")
            link.click()
            body = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#notice .body")))
            shown["notice_text"] = body.text
            shown["notice_scripts"] = len(driver.find_elements(By.CSS_SELECTOR, "#notice script"))
            shown["notice_images"] = len(driver.find_elements(By.CSS_SELECTOR, "#notice img"))
            try:
                driver.switch_to.alert
                shown["alert"] = True
            except NoAlertPresentException:
                shown["alert"] = False
            driver.save_screenshot(artifacts + "/notice.png")
            shown["page_errors"] = [e["message"] for e in driver.get_log("browser")
                                   if e.get("level") == "SEVERE" and "favicon" not in e["message"]]
        finally:
            driver.quit()
        with open(result, "w") as f:
            json.dump(shown, f, ensure_ascii=False)
        """#
}
