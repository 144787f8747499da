import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 15, items 7 and 8: the whole resident journey in headless Chromium, through the real card
/// helper (Selenium, `Browser/portal_journey.py`, which extends `portal_login.py`). Real parts:
/// linkcored, linkcore-matcher, `linkcore-jpki serve`, a SoftHSM2 card issued by `linkcore-jpki`,
/// `linkcore-card helper`, CITY01's and PENSION01's adapters, linkcore-portal with `[oidc]`, and
/// the demo relying party (`scripts/demo-rp/app.py`). The network is `PortalLoginTests.Network`
/// with the whitelist, the two organisations and the `[oidc]` table added.
///
/// Account opening by card → a mediation made now through CITY01's adapter read on /log → a notice
/// through `POST /notices` in /folder → suspend, refused login, resume with the signature
/// certificate → SSO into the relying party (consent page) and PENSION01's answer. Attacks: forged
/// and expired cookies, a form without its CSRF token, another resident's notice id, resident
/// identifiers in any URL. Accessibility checks on every page (one h1, heading order, lang, labels,
/// captions, th scope, no horizontal scroll at 390×844, the language switch, a focus ring).
@Suite(.serialized) struct PortalJourneyBrowserTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Browser/portal_journey.py").path
    static let pensionAnswer = "受給中（老齢基礎年金）"
    static let whitelist = """
        rule_id,bp_id,requester,provider,info_types,valid_from,valid_to
        S1,SIGNIN,CITY01,PORTAL,link_code,2020-01-01,
        M1,BP-CHILD-ALLOWANCE,CITY01,PENSION01,pension-status,2020-01-01,
        N1,NOTICE,CITY01,PORTAL,child-allowance,2020-01-01,
        """

    @Test func aResidentGoesThroughTheWholePortalInABrowser() async throws {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver", PortalLoginBrowserTests.python]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            throw TestFailure("\(tool) is missing: run ./scripts/deps.sh (chromium chromium-driver python3-selenium)")
        }
        let temp = try TempDirectory()
        let whitelistPath = temp.url.appendingPathComponent("whitelist.csv").path
        try Self.whitelist.write(toFile: whitelistPath, atomically: true, encoding: .utf8)
        let (helperPort, portalPort, rpPort) = (try freeLoopbackPort(), try freeLoopbackPort(),
                                                try freeLoopbackPort())

        // The OIDC provider's keys (openssl, as an operator) and CITY01's relying party.
        let signingKey = temp.url.appendingPathComponent("oidc-es256.pem").path
        let subjectKey = temp.url.appendingPathComponent("oidc-subject.key").path
        for command in [["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", signingKey], ["rand", "-out", subjectKey, "32"]] {
            let run = try await runToExit("/usr/bin/openssl", command, outputDirectory: temp.url)
            guard run.status == 0 else { throw TestFailure("openssl \(command): \(run.output)") }
        }
        chmod(subjectKey, 0o600)
        let secret = PortalOIDCNetwork.randomSecret()
        let secretPath = temp.url.appendingPathComponent("rp.secret").path
        try secret.write(toFile: secretPath, atomically: true, encoding: .utf8)
        let oidc = """
            [oidc]
            issuer = "https://localhost:\(portalPort)"
            signing_key = "\(signingKey)"
            subject_key = "\(subjectKey)"

            [[oidc.client]]
            client_id = "city01-child-allowance"
            client_secret_sha256 = "\(try await PortalOIDCNetwork.sha256Hex(secret, in: temp.url))"
            redirect_uris = ["http://127.0.0.1:\(rpPort)/callback"]
            name = "CITY01 児童手当オンライン申請"
            name_en = "CITY01 child allowance online"
            org_code = "CITY01"
            """
        let net = try await PortalLoginTests.Network(
            helperPort: helperPort, daemonConfig: ["mediation": "whitelist = \"\(whitelistPath)\"\ndefault_deadline_ms = 10000"],
            orgs: ["CITY01", "PENSION01"], portalListen: "127.0.0.1:\(portalPort)", portalTables: oidc)
        defer { net.stop() }

        // CITY01 and PENSION01 know the resident by their own person ids (links by My Number).
        let dataset = temp.url.appendingPathComponent("answers.sqlite").path
        let made = try await runToExit(Products.path("linkcore-adapter"),
                                       ["dataset", "--db", dataset, "--person", "PENSION-P-0001", "--info", "pension-status", "--answer", Self.pensionAnswer],
                                       outputDirectory: temp.url)
        guard made.status == 0 else { throw TestFailure("linkcore-adapter dataset: \(made.output)") }
        var adapters: [String: AdapterProcess] = [:]
        for org in ["CITY01", "PENSION01"] {
            let adapter = try AdapterProcess(org: org, pki: net.daemon.pki, directory: temp.url.appendingPathComponent("adapter-\(org)"),
                                             corePort: net.daemon.port, matcherPort: net.matcher.port,
                                             backend: ["kind = \"dataset\"", "dataset = \"\(dataset)\""])
            try await adapter.start()
            try await adapter.waitConnected()
            adapters[org] = adapter
        }
        guard let city = adapters["CITY01"], let pension = adapters["PENSION01"] else { throw TestFailure("adapters") }
        var codes: [String] = []
        for (adapter, person) in [(city, "CITY-RESIDENT-0001"), (pension, "PENSION-P-0001")] {
            let (status, body) = try await adapter.call("POST", "/links", ["person_id": person, "consent_ref": "c-\(person)",
                                                                           "my_number": CardLinkTests.suzuki.myNumber])
            guard status == 201, let code = body["link_code"] as? String else { throw TestFailure("\(adapter.org) link: \(status) \(body)") }
            codes.append(code)
        }

        // The resident's card helper and the demo relying party, as child processes.
        let helperLog = net.card.directory.appendingPathComponent("helper.log").path
        var helperEnvironment = net.card.environment
        helperEnvironment["PATH"] = "/usr/bin:/bin"
        let helper = ChildProcess(executable: Products.path("linkcore-card"), arguments: [
            "helper", "--card", TestCard.label, "--module", "/usr/lib/softhsm/libsofthsm2.so", "--listen", "127.0.0.1:\(helperPort)",
            "--allow-origin", "https://localhost:\(portalPort)=PORTAL",
        ], environment: helperEnvironment, outputPath: helperLog)
        try helper.run()
        defer { helper.killAndReapInBackground() }
        let rpLog = temp.url.appendingPathComponent("demo-rp.log").path
        // The interpreter deps.sh installed flask and authlib into (as PortalOIDCNetwork.python).
        let rp = ChildProcess(executable: "/usr/bin/env", arguments: [
            "python3", Products.sourceRoot + "/scripts/demo-rp/app.py", "--portal", "https://localhost:\(portalPort)", "--client-secret-file", secretPath,
            "--adapter", "http://127.0.0.1:\(city.apiPort)", "--adapter-token-file", city.directory.appendingPathComponent("api-token").path,
            "--listen", "\(rpPort)",
        ], environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": temp.url.path, "REQUESTS_CA_BUNDLE": net.daemon.pki.caPath, "PYTHONWARNINGS": "ignore"],
           outputPath: rpLog)
        try rp.run()
        defer { rp.killAndReapInBackground() }
        try await waitFor("the helper and the relying party did not start") { () -> Bool? in
            let helperText = (try? String(contentsOfFile: helperLog, encoding: .utf8)) ?? ""
            let rpText = (try? String(contentsOfFile: rpLog, encoding: .utf8)) ?? ""
            guard helper.isRunning, rp.isRunning else { throw TestFailure("exited:\n\(helperText)\n\(rpText)") }
            return helperText.contains("helper 127.0.0.1:\(helperPort)") && rpText.contains("demo-rp http://") ? true : nil
        }

        // What must never appear in a URL: the link codes, the card's serials, the person ids.
        var serials: [String] = []
        for (name, der) in try await net.card.certificates() {
            let pem = temp.url.appendingPathComponent("card-\(name).pem").path
            try PortalLoginTests.Network.pem(der).write(toFile: pem, atomically: true, encoding: .utf8)
            let read = try await runToExit("/usr/bin/openssl", ["x509", "-noout", "-serial", "-in", pem], outputDirectory: temp.url)
            guard read.status == 0, let serial = read.output.split(separator: "=").last else { throw TestFailure("openssl x509: \(read.output)") }
            serials.append(serial.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let artifacts = FileManager.default.temporaryDirectory.appendingPathComponent("linkcore-artifacts/portal-journey-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        print("PortalJourneyBrowserTests: screenshots in \(artifacts.path)")
        let config: [String: Any] = [
            "portal": net.portal.url, "rp": "http://127.0.0.1:\(rpPort)/", "profile": artifacts.appendingPathComponent("profile").path,
            "shots": artifacts.path, "sign_pin": TestCard.signPIN, "auth_pin": TestCard.authPIN, "database": net.portal.databasePath,
            "adapter": [
                "url": "http://127.0.0.1:\(city.apiPort)", "token": try city.token(),
                "ask": ["person_id": "CITY-RESIDENT-0001", "provider_org": "PENSION01", "bp_id": "BP-CHILD-ALLOWANCE", "info_type": "pension-status"],
                "notice": ["person_id": "CITY-RESIDENT-0001", "notice_type": "child-allowance", "title": "児童手当の認定のお知らせ",
                           "body": "児童手当の認定をしました。\n支給は6月からです。"],
            ],
            "secrets": codes + serials + ["CITY-RESIDENT-0001", "PENSION-P-0001", CardLinkTests.suzuki.myNumber],
        ]
        let configPath = artifacts.appendingPathComponent("config.json").path
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        let result = artifacts.appendingPathComponent("result.json").path
        let run = try await runToExit(PortalLoginBrowserTests.python, [Self.script, configPath, result],
                                      environment: ["PATH": "/usr/bin:/bin", "HOME": artifacts.path], outputDirectory: artifacts,
                                      timeout: .seconds(600))
        let shown = FileManager.default.contents(atPath: result).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
        guard run.status == 0 else {
            let helperText = (try? String(contentsOfFile: helperLog, encoding: .utf8)) ?? ""
            let rpText = (try? String(contentsOfFile: rpLog, encoding: .utf8)) ?? ""
            throw TestFailure("portal_journey.py exited \(run.status):\n\(run.output)\nportal:\n\(net.portal.log)\nhelper:\n\(helperText)\nrp:\n\(rpText)")
        }
        // What a user would check: every page passed its checks, the answer came back, the attacks failed.
        #expect((shown["failures"] as? [String] ?? ["?"]).isEmpty, "\(shown)")
        #expect((shown["rp_result"] as? String)?.contains(Self.pensionAnswer) == true, "\(shown)")
        #expect((shown["notice_text"] as? String)?.contains("支給は6月からです。") == true)
        #expect((shown["log_rows"] as? Int ?? 0) >= 1)
        let attacks = shown["attacks"] as? [String: Any] ?? [:]
        #expect(attacks["cookies"] as? [String] == ["ログインしていません", "ログインしていません"], "\(attacks)")
        #expect(attacks["no_csrf"] as? String == "フォームを受け付けられませんでした")
        #expect((attacks["url_leaks"] as? [String])?.isEmpty == true, "\(attacks)")
        // A logged-out SSO continued to its consent page after the login; a second continue is refused.
        #expect((shown["consent_url"] as? String)?.hasSuffix("/oidc/continue") == true, "\(shown)")
        #expect(attacks["continue_again"] as? String == "このサービスへのログインの手続は終わっているか、期限が切れました")
        #expect((shown["urls"] as? [String] ?? []).count >= 20)
        let events = shown["account_events"] as? String ?? ""
        #expect(events.contains("一時停止") && events.contains("再開"), "\(events)")
        // The helper's windows: opening (consent + login), the refused login, resume (2), the SSO login.
        let pins = shown["pin_pages"] as? [[String: String]] ?? []
        #expect(pins.count == 6 && pins.allSatisfy { $0["service"] == "PORTAL" }, "\(pins)")
    }
}
