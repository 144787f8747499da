import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 15, item 2 in a real browser: headless Chromium (Selenium, `Browser/portal_login.py`)
/// opens an account on My Portal and logs in again, the card signing through `linkcore-card
/// helper` (a child process) with the PINs typed in the helper's own window. Every page is saved as
/// a screenshot in the test's artifacts directory (printed).
@Suite(.serialized) struct PortalLoginBrowserTests {
    static let python = "/usr/bin/python3"  // Debian's, which has python3-selenium
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Browser/portal_login.py").path

    @Test func aResidentOpensAnAccountAndLogsInWithTheCardInABrowser() async throws {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver", Self.python] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw TestFailure("\(tool) is missing: run ./scripts/deps.sh (chromium chromium-driver python3-selenium)")
        }
        let helperPort = try freeLoopbackPort()
        let net = try await PortalLoginTests.Network(helperPort: helperPort)
        defer { net.stop() }
        let helperLog = net.card.directory.appendingPathComponent("helper.log").path
        var environment = net.card.environment
        environment["PATH"] = "/usr/bin:/bin"
        let helper = ChildProcess(executable: Products.path("linkcore-card"), arguments: [
            "helper", "--card", TestCard.label, "--module", "/usr/lib/softhsm/libsofthsm2.so", "--listen", "127.0.0.1:\(helperPort)",
            "--allow-origin", "https://localhost:\(net.portal.port)=PORTAL",
        ], environment: environment, outputPath: helperLog)
        try helper.run()
        defer { helper.killAndReapInBackground() }
        try await waitFor("the helper did not start") { () -> Bool? in
            let text = (try? String(contentsOfFile: helperLog, encoding: .utf8)) ?? ""
            guard helper.isRunning else { throw TestFailure("the helper exited:\n\(text)") }
            return text.contains("helper 127.0.0.1:\(helperPort)") ? true : nil
        }

        let artifacts = FileManager.default.temporaryDirectory.appendingPathComponent("portal-browser-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        print("PortalLoginBrowserTests: screenshots in \(artifacts.path)")
        let result = artifacts.appendingPathComponent("result.json").path
        let run = try await runToExit(Self.python, [
            Self.script, net.portal.url, artifacts.appendingPathComponent("profile").path, result, artifacts.path, TestCard.signPIN, TestCard.authPIN,
        ], environment: ["PATH": "/usr/bin:/bin", "HOME": artifacts.path], outputDirectory: artifacts, timeout: .seconds(300))
        let helperText = (try? String(contentsOfFile: helperLog, encoding: .utf8)) ?? ""
        guard run.status == 0, let data = FileManager.default.contents(atPath: result),
              let shown = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TestFailure("portal_login.py exited \(run.status):\n\(run.output)\nportal:\n\(net.portal.log)\nhelper:\n\(helperText)")
        }
        // The helper's windows named the portal's service, the consent first (signature key).
        let pins = shown["pin_pages"] as? [[String: String]] ?? []
        #expect(pins.count == 3 && pins.allSatisfy { $0["service"] == "PORTAL" && ($0["url"] ?? "").hasPrefix("http://127.0.0.1:\(helperPort)/pin/") },
                "\(pins)")
        #expect(pins.first?["h1"]?.contains("signature") == true)
        #expect(pins.allSatisfy { $0["after"] == "Signed" }, "\(pins)")
        // The pages: account opened (its record shows it), then a later login reached /home.
        let pages = (shown["pages"] as? [[String: String]] ?? []).map { $0["name"] ?? "" }
        #expect(pages == ["landing", "open", "account", "logged-out", "login", "home"], "\(pages)")
        #expect((shown["account_events"] as? String)?.contains("Account opened") == true, "\(shown)")
        let screenshots = shown["screenshots"] as? [String] ?? []
        #expect(screenshots.count >= 12 && screenshots.allSatisfy { FileManager.default.fileExists(atPath: $0) })
        #expect(try await net.sql("SELECT kind FROM account_events ORDER BY seq") == "opened\nlogin")
    }
}
