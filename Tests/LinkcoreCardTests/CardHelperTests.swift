import Foundation
import LinkcoreCardVerifier
import LinkcoreTestSupport
import Testing

/// `linkcore-card helper` as a child process with a card issued by `linkcore-jpki` on SoftHSM2
/// tokens, a bank's page served by a Python `http.server` child on another loopback port, and
/// headless Chromium driven by Selenium (`Browser/card_login.py`). The signature the browser
/// collects is checked as the bank would: `CardLoginVerifier.verify` with the challenge it issued.
@Suite("Card helper: browser login through the loopback helper")
struct CardHelperTests {
    static let python = "/usr/bin/python3"  // Debian's, which has python3-selenium (not a pyenv shim)
    static let browserDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Browser").path

    /// A card, the bank's page server and the helper, all running.
    final class Setup: @unchecked Sendable {
        let issued: CardLoginTests.Issued
        let www: String
        let site: ChildProcess
        let sitePort: Int
        let helper: ChildProcess
        let helperLog: String
        let helperPort: Int
        let bank: CardLoginVerifier
        var origin: String { "http://127.0.0.1:\(sitePort)" }
        var helperURL: String { "http://127.0.0.1:\(helperPort)" }

        init(maxPending: Int = 4) async throws {
            issued = try await CardLoginTests().issuedCard()
            let dir = issued.card.directory
            www = dir + "/www"
            try FileManager.default.createDirectory(atPath: www, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: CardHelperTests.browserDirectory + "/service.html", toPath: www + "/index.html")
            let siteLog = dir + "/site.log"
            site = ChildProcess(executable: CardHelperTests.python, arguments: ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", www],
                                environment: ["PATH": "/usr/bin:/bin"], outputPath: siteLog)
            try site.run()
            let started = site
            sitePort = try await waitFor("the page server did not report its port") {
                let text = (try? String(contentsOfFile: siteLog, encoding: .utf8)) ?? ""
                guard started.isRunning else { throw CardTestFailure("http.server exited:\n\(text)") }
                guard let range = text.range(of: "Serving HTTP on 127.0.0.1 port ") else { return nil }
                return Int(text[range.upperBound...].prefix { $0.isNumber })
            }
            helperLog = dir + "/helper.log"
            helper = ChildProcess(executable: Tools.card, arguments: [
                "helper", "--card", issued.card.label, "--module", Tools.softhsmModule, "--listen", "127.0.0.1:0",
                "--allow-origin", "http://127.0.0.1:\(sitePort)=BANK01", "--allow-origin", "https://shop.example",
                "--max-pending", String(maxPending),
            ], environment: issued.card.environment.merging(["PATH": "/usr/bin:/bin"]) { a, _ in a }, outputPath: helperLog)
            try helper.run()
            let helperStarted = helper, log = helperLog
            helperPort = try await waitFor("the helper did not report its port") {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                guard helperStarted.isRunning else { throw CardTestFailure("the helper exited:\n\(text)") }
                guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("helper 127.0.0.1:") }) else { return nil }
                return Int(line.split(separator: ":").last ?? "")
            }
            bank = CardLoginVerifier(service: "BANK01", cardCAPEM: issued.caPEM)
        }

        /// The bank's server issues a challenge and puts it where its page fetches it.
        func issueChallenge() throws -> CardChallenge {
            let challenge = bank.issueChallenge()
            let json = try JSONSerialization.data(withJSONObject: [
                "challenge_hex": hex(challenge.bytes), "challenge_text": String(decoding: challenge.bytes, as: UTF8.self),
            ])
            try json.write(to: URL(fileURLWithPath: www + "/challenge.json"))
            return challenge
        }

        /// The Selenium script in headless Chromium; its JSON result.
        func browser(_ mode: String, url: String, pins: [String] = []) async throws -> [String: Any] {
            try await CardHelperTests.requireBrowser()
            let profile = issued.card.directory + "/chromium-\(UUID().uuidString.prefix(8))"
            let result = issued.card.directory + "/browser-\(UUID().uuidString.prefix(8)).json"
            let run = try await runToExit(CardHelperTests.python, [CardHelperTests.browserDirectory + "/card_login.py", mode, url, profile, result] + pins,
                                          environment: ["PATH": "/usr/bin:/bin", "HOME": issued.card.directory],
                                          outputDirectory: URL(fileURLWithPath: issued.card.directory), timeout: .seconds(240))
            guard run.status == 0, let data = FileManager.default.contents(atPath: result),
                  let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            else { throw CardTestFailure("card_login.py \(mode) exited \(run.status):\n\(run.output)\nhelper log:\n\(log)") }
            return object
        }

        var log: String { (try? String(contentsOfFile: helperLog, encoding: .utf8)) ?? "" }

        func stop() {
            helper.killAndReapInBackground()
            site.killAndReapInBackground()
            issued.card.cleanup()
        }
    }

    static func requireBrowser() async throws {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver", python] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw CardTestFailure("\(tool) is missing: run ./scripts/deps.sh (chromium chromium-driver python3-selenium)")
        }
        guard try await runProcess(python, ["-c", "import selenium"], environment: [:]).status == 0 else {
            throw CardTestFailure("python3-selenium is missing: run ./scripts/deps.sh")
        }
    }

    @Test func aBrowserLogsInWithThePINTypedOnlyOnTheHelpersPageAfterAWrongOne() async throws {
        let setup = try await Setup()
        defer { setup.stop() }
        let challenge = try setup.issueChallenge()
        let shown = try await setup.browser("login", url: "\(setup.origin)/index.html?helper=\(setup.helperURL)", pins: ["0000", "1234"])

        // The helper's window showed who asks, for which service, and was the helper's own page.
        #expect(shown["origin"] as? String == setup.origin)
        #expect(shown["service"] as? String == "BANK01")
        #expect((shown["expires"] as? String)?.contains(" s left)") == true)
        #expect((shown["pin_url"] as? String)?.hasPrefix("\(setup.helperURL)/pin/") == true)
        // The wrong PIN: the token's refusal and PIN state, then the retry signed.
        let errors = shown["errors"] as? [String] ?? []
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("wrong-pin: wrong user authentication PIN (retries low)") == true, "\(errors)")
        #expect(shown["result"] as? String == "Signed")

        // The bank's check of what its page received.
        let signature = try #require(bytes(hex: shown["signature_hex"] as? String ?? ""))
        let login = try setup.bank.verify(challenge: challenge.bytes, signature: signature,
                                          certificatePEM: shown["certificate_pem"] as? String ?? "")
        #expect(login.serialHex == setup.issued.userSerial)
    }

    @Test func aPageOnAnotherOriginGetsNoPINPage() async throws {
        let setup = try await Setup()
        defer { setup.stop() }
        _ = try setup.issueChallenge()
        // The same page from http://localhost:PORT: another origin, not on the allow-list.
        let shown = try await setup.browser("refused", url: "http://localhost:\(setup.sitePort)/index.html?helper=\(setup.helperURL)")
        #expect((shown["error"] as? String)?.hasPrefix("helper unreachable or refused") == true, "\(shown)")
        #expect(shown["windows"] as? Int == 1)
        #expect(setup.log.contains("origin not allowed"))
        #expect(!setup.log.contains("login request"))
    }

    // MARK: without a browser

    struct HTTPAnswer {
        let status: Int
        let headers: [String: String]
        let body: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    }

    /// curl, headers and body.
    func curl(_ url: String, method: String = "GET", headers: [String] = [], body: String? = nil, bodyFile: String? = nil) async throws -> HTTPAnswer {
        var arguments = ["-s", "-i", "-X", method, url]
        for header in headers { arguments += ["-H", header] }
        if let body { arguments += ["--data-binary", body] }
        if let bodyFile { arguments += ["--data-binary", "@" + bodyFile] }
        let run = try await runProcess(Tools.which("curl"), arguments, environment: [:])
        let text = run.stdout
        guard let split = text.range(of: "\r\n\r\n") else { throw CardTestFailure("curl \(url): \(run.stderr)\(text)") }
        let lines = text[..<split.lowerBound].split(separator: "\r\n")
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return HTTPAnswer(status: status, headers: fields, body: String(text[split.upperBound...]))
    }

    func create(_ setup: Setup, _ challenge: CardChallenge, origin: String? = nil) async throws -> HTTPAnswer {
        try await curl(setup.helperURL + "/requests", method: "POST", headers: ["Origin: \(origin ?? setup.origin)", "Content-Type: application/json"],
                 body: "{\"challenge_hex\":\"\(hex(challenge.bytes))\"}")
    }

    /// The PIN page's form secret, as the helper embedded it.
    func secret(in page: String) -> String? {
        guard let range = page.range(of: "name=\"secret\" value=\"") else { return nil }
        return String(page[range.upperBound...].prefix { $0 != "\"" })
    }

    @Test func hostileRequestsAreRefusedWithTypedErrors() async throws {
        let setup = try await Setup(maxPending: 3)
        defer { setup.stop() }
        let helper = setup.helperURL
        let challenge = try setup.issueChallenge()

        // DNS rebinding: the helper's port under another name.
        let rebound = try await curl(helper + "/requests", method: "POST", headers: ["Host: evil.example:\(setup.helperPort)", "Origin: \(setup.origin)"], body: "{}")
        #expect(rebound.status == 403 && rebound.json["error"] as? String == "wrong-host")
        // No Origin (not a browser page), and a foreign one: 403, no CORS answer.
        let bare = try await curl(helper + "/requests", method: "POST", body: "{\"challenge_hex\":\"\(hex(challenge.bytes))\"}")
        #expect(bare.status == 403 && bare.json["error"] as? String == "origin-not-allowed" && bare.headers["access-control-allow-origin"] == nil)
        let foreign = try await create(setup, challenge, origin: "https://evil.example")
        #expect(foreign.status == 403 && foreign.headers["access-control-allow-origin"] == nil)
        // Preflights: CORS and Private Network Access, for the allowed origin only.
        let preflight = try await curl(helper + "/requests", method: "OPTIONS", headers: [
            "Origin: \(setup.origin)", "Access-Control-Request-Method: POST", "Access-Control-Request-Headers: content-type",
            "Access-Control-Request-Private-Network: true",
        ])
        #expect(preflight.status == 204)
        #expect(preflight.headers["access-control-allow-origin"] == setup.origin)
        #expect(preflight.headers["access-control-allow-private-network"] == "true")
        let foreignPreflight = try await curl(helper + "/requests", method: "OPTIONS", headers: [
            "Origin: https://evil.example", "Access-Control-Request-Method: POST", "Access-Control-Request-Private-Network: true",
        ])
        #expect(foreignPreflight.status == 403 && foreignPreflight.headers["access-control-allow-private-network"] == nil)

        // Bad bodies: not JSON, not a challenge, too large, expired, another service's.
        let headers = ["Origin: \(setup.origin)", "Content-Type: application/json"]
        #expect(try await curl(helper + "/requests", method: "POST", headers: headers, body: "{not json").json["error"] as? String == "bad-request")
        #expect(try await curl(helper + "/requests", method: "POST", headers: headers, body: "{\"challenge_hex\":\"00ff\"}").status == 422)
        let huge = try setup.issued.card.file("huge.json", Data(repeating: 0x20, count: 1_000_000))
        #expect(try await curl(helper + "/requests", method: "POST", headers: headers, bodyFile: huge).status == 413)
        let expired = CardChallenge(service: "BANK01", expiresAt: Date().addingTimeInterval(-1), nonce: [UInt8](repeating: 3, count: 32))
        #expect(try await create(setup, expired).json["error"] as? String == "expired")
        let shop = CardLoginVerifier(service: "SHOP02", cardCAPEM: setup.issued.caPEM).issueChallenge()
        #expect(try await create(setup, shop).json["error"] as? String == "other-service")
        #expect(try await curl(helper + "/nowhere").status == 404)
        // A link consent (a portal's account opening) is taken for the origin's own service only, and
        // its PIN page asks for the signature PIN, naming the organisation that gets the link.
        func consentRequest(_ requester: String) async throws -> HTTPAnswer {
            let consent = CardLinkConsent.fresh(requester: requester, lifetime: 120)
            return try await curl(helper + "/requests", method: "POST", headers: headers, body: "{\"challenge_hex\":\"\(hex(consent.bytes))\"}")
        }
        #expect(try await consentRequest("SHOP02").json["error"] as? String == "other-service")
        let consentMade = try await consentRequest("BANK01")
        #expect(consentMade.status == 201, "\(consentMade.body)")
        let consentID = try #require(consentMade.json["id"] as? String)
        let consentPage = try await curl(helper + "/pin/\(consentID)")
        #expect(consentPage.body.contains("Signature PIN") && consentPage.body.contains("BANK01") && consentPage.body.contains("maxlength=\"16\""))
        // Cancelled, so that it does not hold one of the pending slots counted below.
        let consentSecret = try #require(secret(in: consentPage.body))
        #expect(try await curl(helper + "/pin/\(consentID)", method: "POST", headers: ["Content-Type: application/x-www-form-urlencoded"],
                               body: "action=cancel&secret=\(consentSecret)").status == 200)

        // A request, its PIN page and its form.
        let created = try await create(setup, challenge)
        #expect(created.status == 201 && created.headers["access-control-allow-origin"] == setup.origin)
        let id = try #require(created.json["id"] as? String)
        #expect(created.json["pin_url"] as? String == "\(helper)/pin/\(id)")
        let page = try await curl(helper + "/pin/\(id)")
        #expect(page.status == 200)
        #expect(page.headers["x-frame-options"] == "DENY")
        #expect(page.headers["content-security-policy"]?.contains("frame-ancestors 'none'") == true)
        #expect(page.headers["cache-control"] == "no-store")
        #expect(page.body.contains(setup.origin) && page.body.contains("BANK01"))
        #expect(try await curl(helper + "/pin/\(id)", headers: ["Host: evil.example:\(setup.helperPort)"]).status == 403)
        let formSecret = try #require(secret(in: page.body))

        // The form without the secret, with another's, or posted by another page: refused, nothing signed.
        let form = ["Content-Type: application/x-www-form-urlencoded"]
        #expect(try await curl(helper + "/pin/\(id)", method: "POST", headers: form, body: "pin=1234&action=sign").status == 403)
        #expect(try await curl(helper + "/pin/\(id)", method: "POST", headers: form, body: "pin=1234&action=sign&secret=\(String(repeating: "0", count: 64))").status == 403)
        #expect(try await curl(helper + "/pin/\(id)", method: "POST", headers: form + ["Origin: \(setup.origin)"],
                         body: "pin=1234&action=sign&secret=\(formSecret)").status == 403)
        // Polling: only the origin that asked; pending until the PIN.
        #expect(try await curl(helper + "/requests/\(id)", headers: ["Origin: https://shop.example"]).status == 404)
        #expect(try await curl(helper + "/requests/\(id)", headers: ["Origin: \(setup.origin)"]).json["state"] as? String == "pending")
        let signed = try await curl(helper + "/pin/\(id)", method: "POST", headers: form + ["Origin: \(helper)"], body: "pin=1234&action=sign&secret=\(formSecret)")
        #expect(signed.status == 200 && signed.body.contains("Signed"))
        // Answered once.
        #expect(try await curl(helper + "/pin/\(id)", method: "POST", headers: form, body: "pin=1234&action=sign&secret=\(formSecret)").status == 409)
        let result = try await curl(helper + "/requests/\(id)", headers: ["Origin: \(setup.origin)"]).json
        #expect(result["state"] as? String == "signed")
        let signature = try #require(bytes(hex: result["signature_hex"] as? String ?? ""))
        #expect(try setup.bank.verify(challenge: challenge.bytes, signature: signature,
                                      certificatePEM: result["certificate_pem"] as? String ?? "").serialHex == setup.issued.userSerial)

        // A request outlives its challenge only as "expired": the page learns it, the form is closed.
        let brief = CardLoginVerifier(service: "BANK01", cardCAPEM: setup.issued.caPEM, challengeLifetime: 5).issueChallenge()
        let shortLived = try await #require(try create(setup, brief).json["id"] as? String)
        let shortSecret = try await #require(secret(in: try curl(helper + "/pin/\(shortLived)").body))
        try await eventually("the request did not expire with its challenge") {
            try await curl(helper + "/requests/\(shortLived)", headers: ["Origin: \(setup.origin)"]).json["state"] as? String == "expired"
        }
        #expect(try await curl(helper + "/pin/\(shortLived)", method: "POST", headers: form, body: "pin=1234&action=sign&secret=\(shortSecret)").status == 410)

        // A cancelled request is refused to the page; a bounded number wait at once.
        let second = try await #require(try create(setup, try setup.issueChallenge()).json["id"] as? String)
        let secondSecret = try await #require(secret(in: try curl(helper + "/pin/\(second)").body))
        #expect(try await curl(helper + "/pin/\(second)", method: "POST", headers: form, body: "action=cancel&secret=\(secondSecret)").status == 200)
        #expect(try await curl(helper + "/requests/\(second)", headers: ["Origin: \(setup.origin)"]).json["state"] as? String == "refused")
        for _ in 0..<3 { #expect(try await create(setup, try setup.issueChallenge()).status == 201) }
        let tooMany = try await create(setup, try setup.issueChallenge())
        #expect(tooMany.status == 429 && tooMany.json["error"] as? String == "too-many-requests")

        // Still serving, and SIGTERM ends it cleanly.
        #expect(try await curl(helper + "/requests/\(id)", headers: ["Origin: \(setup.origin)"]).status == 200)
        setup.helper.signal(SIGTERM)
        #expect(try await setup.helper.exitStatus(detail: setup.log) == 0)
    }

    @Test func theHelperStartsOnLoopbackWithAnExplicitAllowListOnly() async throws {
        let card = try await SoftCard()
        defer { card.cleanup() }
        for (arguments, message) in [
            (["--listen", "0.0.0.0:0", "--allow-origin", "https://bank.example"], "loopback only"),
            (["--listen", "localhost:0", "--allow-origin", "https://bank.example"], "loopback only"),
            (["--listen", "127.0.0.1:0"], "at least one --allow-origin"),
            (["--listen", "127.0.0.1:0", "--allow-origin", "*"], "exact origin"),
            (["--listen", "127.0.0.1:0", "--allow-origin", "https://bank.example/login"], "exact origin"),
        ] {
            let run = try await card.card("helper", arguments)
            #expect(run.status == 64, "\(arguments)")
            #expect(run.stderr.contains(message), "\(run.stderr)")
        }
    }
}

private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

private func bytes(hex text: String) -> [UInt8]? {
    let chars = Array(text.utf8)
    guard chars.count % 2 == 0, !chars.isEmpty else { return nil }
    return stride(from: 0, to: chars.count, by: 2).compactMap { UInt8(String(decoding: chars[$0..<$0 + 2], as: UTF8.self), radix: 16) }
}
