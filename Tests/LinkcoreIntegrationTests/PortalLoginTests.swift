import Foundation
import LinkcorePKI
import LinkcoreRegistry
import LinkcoreWire
import Testing

/// Issue 15, items 2 and 5: My Portal's card login and account, with real parts: linkcored,
/// linkcore-matcher, `linkcore-jpki serve` (the card authority's licensed-verifier service), a card
/// issued by `linkcore-jpki` on SoftHSM2 tokens, and `linkcore-portal` over HTTPS. curl (trusting
/// only the test CA) is the browser here; the card signs what the pages hand out with
/// `linkcore-card sign` (the helper's own path is the browser test's, `PortalLoginBrowserTests`); sqlite3
/// reads the portal's file. Status comes from the card authority's CRL: the configured responder
/// (port 1) refuses connections, so the CRL decides (fail closed otherwise).
@Suite(.serialized) struct PortalLoginTests {
    static let ja: [String: String] = [
        "no_account": "このカードではログインできません", "suspended": "アカウントは一時停止中です",
        "not_verified": "カードの署名を確認できませんでした", "replayed": "このログインの手続きは期限切れか、すでに使われています",
        "expired": "電子証明書の有効期限が切れています", "revoked": "電子証明書が失効しているか、一時停止されています",
        "not_same_card": "同じカードのものではありません", "unconfirmed": "確認のチェックを入れてください",
        "closed": "アカウントを廃止しました", "suspended_done": "アカウントを一時停止しました",
    ]

    final class Network: @unchecked Sendable {
        let daemon: DaemonProcess
        let matcher: MatcherProcess
        let authority: JPKIProcess
        let card: TestCard
        let portal: PortalProcess
        let registryPath: String

        /// The journey test (`PortalJourneyBrowserTests`) adds the core's whitelist (`daemonConfig`),
        /// more organisations, the portal's port (an OIDC issuer names it) and whole tables (`[oidc]`).
        init(helperPort: Int = 8765, daemonConfig: [String: String] = [:], orgs: [String] = [], portalListen: String = "127.0.0.1:0",
             portalTables: String = "") async throws {
            daemon = try DaemonProcess(extraConfig: daemonConfig)
            for org in orgs { try daemon.addOrg(org) }
            try daemon.addOrg("MATCHER", role: .matcher)
            try daemon.addOrg("JPKI", role: .cardAuthority)
            try daemon.addOrg("PORTAL", role: .portal)
            try await daemon.start()
            // The portal is a licensed verifier (JPKI's 利用者証明検証者): the operator's decision.
            let (status, output) = try await daemon.linkctl(["org", "license", "PORTAL"])
            guard status == 0 else { throw TestFailure("linkctl org license PORTAL: \(output)") }
            registryPath = daemon.temp.url.appendingPathComponent("registry.sqlite").path
            try RegistryStore(path: registryPath).insert([CardLinkTests.suzuki])
            card = try await TestCard.issue(in: daemon.temp.url.appendingPathComponent("card"), registryPath: registryPath,
                                            resident: CardLinkTests.suzuki.residentCode)
            matcher = try MatcherProcess(pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("matcher"), corePort: daemon.port,
                                         registryPath: registryPath,
                                         extraConfig: ["card": "ca_bundle = \"\(card.caPath)\"\ncrl = \"\(card.crlPath)\""])
            try await matcher.start()
            authority = try JPKIProcess(pki: daemon.pki, directory: URL(fileURLWithPath: card.authority), corePort: daemon.port, licenceCacheMs: 300)
            try await authority.start()
            portal = try PortalProcess(pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("portal"), core: "127.0.0.1:\(daemon.port)",
                                       extra: [
                                           "card": """
                                               ca = "\(card.caPath)"
                                               crl = "\(card.crlPath)"
                                               ocsp_url = "http://127.0.0.1:1"
                                               authority = "127.0.0.1:\(authority.port)"
                                               authority_server_name = "localhost"
                                               helper_origin = "http://127.0.0.1:\(helperPort)"
                                               """,
                                           "matcher": "address = \"127.0.0.1:\(matcher.port)\"\nserver_name = \"localhost\"",
                                       ], listen: portalListen, moreTables: portalTables)
            try await portal.start()
            let portal = portal
            try await eventually("the portal did not connect to the core\n\(portal.log)") {
                (try? await portal.curl("/health"))?.body.contains("core: connected") ?? false
            }
        }

        func stop() {
            portal.stop()
        }

        // MARK: The pages, as a browser with card.js would use them

        struct CardPage {
            var cookie: String
            var csrf: String
            var challenge: [UInt8]
            var consent: [UInt8]?
        }

        /// GET /login or /open as a new visitor: the visitor's cookie, the form's CSRF token and what
        /// the card is to sign (the page's data attributes, which card.js reads).
        func cardPage(_ path: String) async throws -> CardPage {
            let answer = try await portal.curl(path)
            guard answer.status == 200, let cookie = answer.cookie("__Host-session"), let csrf = Self.attribute(answer.body, "value", after: "name=\"csrf_token\""),
                  let challenge = Self.attribute(answer.body, "data-challenge").flatMap(TestCard.bytes(hex:)) else {
                throw TestFailure("\(path): \(answer.status)\n\(answer.body)")
            }
            let consent = Self.attribute(answer.body, "data-consent").flatMap { $0.isEmpty ? nil : TestCard.bytes(hex: $0) }
            return CardPage(cookie: cookie, csrf: csrf, challenge: challenge, consent: consent)
        }

        /// What the helper hands back for a login: the user certificate and the signature.
        func signedLogin(_ challenge: [UInt8], key authentication: Bool = true) async throws -> [(String, String)] {
            let certificate = try await card.certificates()["auth"] ?? []
            return [("challenge_hex", Self.hex(challenge)), ("certificate_pem", Self.pem(certificate)),
                    ("signature_hex", Self.hex(try await card.sign(challenge, authentication: authentication)))]
        }

        func signedConsent(_ consent: [UInt8]) async throws -> [(String, String)] {
            let certificate = try await card.certificates()["sign"] ?? []
            return [("consent_hex", Self.hex(consent)), ("consent_certificate_pem", Self.pem(certificate)),
                    ("consent_signature_hex", Self.hex(try await card.sign(consent)))]
        }

        func post(_ path: String, _ page: CardPage, _ fields: [(String, String)]) async throws -> PortalProcess.Answer {
            try await portal.curl(path, method: "POST", headers: ["Origin: \(portal.url)"], cookies: ["__Host-session": page.cookie],
                                  form: Self.form([("csrf_token", page.csrf)] + fields))
        }

        /// A later visit: /login, the user certificate signs.
        func login() async throws -> PortalProcess.Answer {
            let page = try await cardPage("/login")
            return try await post("/login", page, try await signedLogin(page.challenge))
        }

        /// Account opening (or resuming): /open, the consent then the login.
        func open() async throws -> PortalProcess.Answer {
            let page = try await cardPage("/open")
            guard let consent = page.consent else { throw TestFailure("/open hands out no consent") }
            return try await post("/open", page, try await signedConsent(consent) + (try await signedLogin(page.challenge)))
        }

        /// A logged-in page's CSRF token.
        func csrf(_ path: String, session: String) async throws -> String {
            let answer = try await portal.curl(path, cookies: ["__Host-session": session])
            guard let token = Self.attribute(answer.body, "value", after: "name=\"csrf_token\"") else { throw TestFailure("\(path): \(answer.body)") }
            return token
        }

        func sql(_ query: String) async throws -> String {
            let run = try await runToExit("/usr/bin/sqlite3", [portal.databasePath, query], outputDirectory: daemon.temp.url)
            return run.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func jpki(_ arguments: [String], stdin: String = "") async throws {
            try await card.expectSuccess(Products.path("linkcore-jpki"), arguments + ["--dir", card.authority], stdin: stdin)
        }

        /// Sent and activated at the counter with the same PINs (renewal and suspension need an active card).
        func activate() async throws {
            try await jpki(["transition", "--card", TestCard.label, "--event", "send"])
            try await jpki(["activate", "--card", TestCard.label, "--module", "/usr/lib/softhsm/libsofthsm2.so"],
                           stdin: "so-secret-1\n\(TestCard.signPIN)\n\(TestCard.authPIN)\n")
        }

        static func attribute(_ html: String, _ name: String, after anchor: String? = nil) -> String? {
            var rest = Substring(html)
            if let anchor {
                guard let found = rest.range(of: anchor) else { return nil }
                rest = rest[found.upperBound...]
            }
            guard let start = rest.range(of: name + "=\"") else { return nil }
            return String(rest[start.upperBound...].prefix { $0 != "\"" })
        }

        static func form(_ fields: [(String, String)]) -> String {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._")
            return fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
        }

        static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

        static func pem(_ der: [UInt8]) -> String {
            let base64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
            return "-----BEGIN CERTIFICATE-----\n\(base64)\n-----END CERTIFICATE-----\n"
        }
    }

    @Test func anAccountIsOpenedByCardAndLaterLoginsGetANewSession() async throws {
        let net = try await Network()
        defer { net.stop() }
        // Before the account exists the card logs in to nothing, and the page says what to do.
        let before = try await net.login()
        #expect(before.status == 403 && before.body.contains(Self.ja["no_account"] ?? "?") && before.body.contains("href=\"/open\""), "\(before.body)")

        // Account opening: consent (signature key), login (user key), LP from the matcher by certificate.
        let page = try await net.cardPage("/open")
        let consent = try #require(page.consent)
        #expect(String(decoding: consent, as: UTF8.self).hasPrefix("linkcore-card-link-consent/v1\nrequester=PORTAL\n"))
        let opened = try await net.post("/open", page, try await net.signedConsent(consent) + (try await net.signedLogin(page.challenge)))
        #expect(opened.status == 303 && opened.header("location") == "/account", "\(opened.status) \(opened.body)\n\(net.portal.log)")
        let session = try #require(opened.cookie("__Host-session"))
        #expect(session != page.cookie)
        // No fixation: the visitor's session ended; the new one is logged in.
        #expect(try await net.portal.curl("/home", cookies: ["__Host-session": page.cookie]).status == 401)
        let account = try await net.portal.curl("/account", cookies: ["__Host-session": session])
        #expect(account.status == 200 && account.body.contains("利用開始"), "\(account.body)")
        // Durable before the page said so: the binding (generation 1) and the account, read by sqlite3.
        #expect(try await net.sql("SELECT generation, superseded_by IS NULL FROM bindings") == "1|1")
        #expect(try await net.sql("SELECT state FROM accounts") == "active")
        let lp = try await net.sql("SELECT lp_link_code FROM accounts")
        // No resident identifier in any URL: the redirect names a page, never LP or a serial.
        #expect(!(opened.header("location") ?? "").contains(lp))

        // A later visit: the user certificate alone; a new session again.
        let later = try await net.cardPage("/login")
        let signed = try await net.signedLogin(later.challenge)
        let loggedIn = try await net.post("/login", later, signed)
        #expect(loggedIn.status == 303 && loggedIn.header("location") == "/home", "\(loggedIn.body)")
        let second = try #require(loggedIn.cookie("__Host-session"))
        #expect(second != later.cookie && second != session)
        #expect(try await net.portal.curl("/home", cookies: ["__Host-session": second]).status == 200)
        // The login page alone runs our one script and may reach the helper.
        let loginPage = try await net.portal.curl("/login")
        #expect(loginPage.header("content-security-policy")?.contains("script-src 'self'; connect-src http://127.0.0.1:8765") == true)
        #expect(loginPage.body.contains("<script src=\"/static/card.js\"></script>") && !loginPage.body.contains("<script>"))
        #expect(try await net.portal.curl("/home", cookies: ["__Host-session": second]).header("content-security-policy")?.contains("script-src") == false)
        let script = try await net.portal.curl("/static/card.js")
        #expect(script.status == 200 && script.header("content-type")?.hasPrefix("text/javascript") == true)

        // The same signed challenge again (a replay), from another visitor: refused.
        let replayer = try await net.cardPage("/login")
        let replay = try await net.post("/login", replayer, signed)
        #expect(replay.status == 403 && replay.body.contains(Self.ja["replayed"] ?? "?"), "\(replay.body)")
        #expect(try await net.sql("SELECT count(*) FROM account_events WHERE kind = 'login'") == "1")
    }

    @Test func refusedLoginsSayWhatToDoAndNoneRevealsAnAccount() async throws {
        let net = try await Network()
        defer { net.stop() }
        // The wrong card (a signature by another key over the challenge): one answer, account or not.
        func wrongKey() async throws -> PortalProcess.Answer {
            let page = try await net.cardPage("/login")
            var fields = try await net.signedLogin(page.challenge, key: false)
            fields[0] = ("challenge_hex", Network.hex(page.challenge))
            return try await net.post("/login", page, fields)
        }
        let withoutAccount = try await wrongKey()
        #expect(withoutAccount.status == 403 && withoutAccount.body.contains(Self.ja["not_verified"] ?? "?"), "\(withoutAccount.body)")
        #expect(try await net.open().status == 303)
        let withAccount = try await wrongKey()
        #expect(withAccount.status == withoutAccount.status && withAccount.body == withoutAccount.body)

        // An expired user certificate for the card's own key, from the card CA.
        let publicKey = try await net.card.expectSuccess(Products.path("linkcore-card"), ["public-key", "--app", "auth"] + net.card.cardArguments).stdout
        let expired = try net.card.authorityCA().issueForPublicKey(
            publicKeyDER: try #require(TestCard.der(pem: publicKey, label: "PUBLIC KEY")), subject: [("C", "JP"), ("CN", "JPKI user expired")],
            nonRepudiation: false, notBefore: Date().addingTimeInterval(-10 * 86_400), validDays: 1)
        let page = try await net.cardPage("/login")
        var fields = try await net.signedLogin(page.challenge)
        fields[1] = ("certificate_pem", expired.certificatePEM)
        let expiredAnswer = try await net.post("/login", page, fields)
        #expect(expiredAnswer.status == 403 && expiredAnswer.body.contains(Self.ja["expired"] ?? "?"), "\(expiredAnswer.body)")

        // A consent signed by this card with another card's login is not one card: here the user
        // certificate of the card but the consent's certificate swapped for a fresh one of the CA.
        // (The authority's logical link decides; nothing is spent at the matcher.)
        let other = try net.card.authorityCA().issueForPublicKey(
            publicKeyDER: try await net.card.signaturePublicKey(),
            subject: TestCard.subject(name: "鈴木一郎", address: "東京都千代田区千代田1-1", dateOfBirth: "19800102", gender: "M"),
            nonRepudiation: true, validDays: 30)
        let openPage = try await net.cardPage("/open")
        var openFields = try await net.signedConsent(try #require(openPage.consent)) + (try await net.signedLogin(openPage.challenge))
        openFields[1] = ("consent_certificate_pem", other.certificatePEM)
        let notSame = try await net.post("/open", openPage, openFields)
        #expect(notSame.status == 403 && notSame.body.contains(Self.ja["not_same_card"] ?? "?"), "\(notSame.body)\n\(net.portal.log)")

        // Revoked (on hold: the card reported lost) and published in the CRL: refused; good again after.
        try await net.activate()
        try await net.jpki(["transition", "--card", TestCard.label, "--event", "suspend"])
        try await net.card.publishCRL()
        let held = try await net.login()
        #expect(held.status == 403 && held.body.contains(Self.ja["revoked"] ?? "?"), "\(held.body)")
        try await net.jpki(["transition", "--card", TestCard.label, "--event", "resume"])
        try await net.card.publishCRL()
        #expect(try await net.login().status == 303)
        // None of these refusals wrote a session for anyone.
        #expect(try await net.sql("SELECT count(*) FROM sessions WHERE lp_link_code IS NOT NULL") == "2")
    }

    @Test func aRenewedCardLogsInToTheSameAccountThroughTheCertificateHistory() async throws {
        let net = try await Network()
        defer { net.stop() }
        #expect(try await net.open().status == 303)
        let lp = try await net.sql("SELECT lp_link_code FROM accounts")
        let oldSerial = try await net.sql("SELECT cert_serial FROM bindings")
        // Renewal at the counter: new keys and certificates on the card; the old ones superseded.
        try await net.activate()
        try await net.jpki(["renew", "--registry", net.registryPath, "--card", TestCard.label, "--module", "/usr/lib/softhsm/libsofthsm2.so"],
                           stdin: "\(TestCard.signPIN)\n\(TestCard.authPIN)\n")
        try await net.card.publishCRL()
        let answer = try await net.login()
        #expect(answer.status == 303 && answer.header("location") == "/home", "\(answer.body)\n\(net.portal.log)\n\(net.authority.log)")
        // The new serial is bound to the same LP as generation 2; the old one points at it.
        #expect(try await net.sql("SELECT count(DISTINCT lp_link_code), max(generation) FROM bindings") == "1|2")
        let newSerial = try await net.sql("SELECT cert_serial FROM bindings WHERE generation = 2")
        #expect(try await net.sql("SELECT superseded_by FROM bindings WHERE cert_serial = '\(oldSerial)'") == newSerial)
        #expect(try await net.sql("SELECT lp_link_code FROM bindings WHERE generation = 2") == lp)
        #expect(try await net.sql("SELECT kind FROM account_events ORDER BY seq") == "opened\nrenewed\nlogin")
        // And again, now bound directly.
        #expect(try await net.login().status == 303)
    }

    @Test func anAccountIsSuspendedResumedAndClosed() async throws {
        let net = try await Network()
        defer { net.stop() }
        let opened = try await net.open()
        let session = try #require(opened.cookie("__Host-session"))
        let lp = try await net.sql("SELECT lp_link_code FROM accounts")
        // Suspend: a form with the session's CSRF token (without it: refused, nothing changes).
        let noToken = try await net.portal.curl("/account/suspend", method: "POST", cookies: ["__Host-session": session], form: "x=1")
        #expect(noToken.status == 403)
        #expect(try await net.sql("SELECT state FROM accounts") == "active")
        let token = try await net.csrf("/account", session: session)
        let suspended = try await net.portal.curl("/account/suspend", method: "POST", cookies: ["__Host-session": session], form: "csrf_token=\(token)")
        #expect(suspended.status == 200 && suspended.body.contains(Self.ja["suspended_done"] ?? "?") && suspended.cookie("__Host-session") == "")
        #expect(try await net.sql("SELECT state FROM accounts") == "suspended")
        // Its sessions ended; logins are refused with a page only the card's holder sees.
        #expect(try await net.portal.curl("/account", cookies: ["__Host-session": session]).status == 401)
        let refused = try await net.login()
        #expect(refused.status == 403 && refused.body.contains(Self.ja["suspended"] ?? "?") && refused.body.contains("href=\"/open\""), "\(refused.body)")
        #expect(try await net.sql("SELECT count(*) FROM sessions WHERE lp_link_code IS NOT NULL") == "0")

        // Resume with the signature certificate: the same LP, the same account.
        let resumed = try await net.open()
        #expect(resumed.status == 303 && resumed.header("location") == "/account")
        let again = try #require(resumed.cookie("__Host-session"))
        #expect(try await net.sql("SELECT state, lp_link_code FROM accounts") == "active|\(lp)")
        let account = try await net.portal.curl("/account", cookies: ["__Host-session": again])
        #expect(account.body.contains("再開") && account.body.contains("一時停止") && account.body.contains("利用開始"), "\(account.body)")

        // Close: a confirmation page; without its box ticked nothing is closed.
        let confirm = try await net.portal.curl("/account/close", cookies: ["__Host-session": again])
        #expect(confirm.status == 200 && confirm.body.contains("name=\"confirm\""))
        let closeToken = try await net.csrf("/account/close", session: again)
        let unticked = try await net.portal.curl("/account/close", method: "POST", cookies: ["__Host-session": again], form: "csrf_token=\(closeToken)")
        #expect(unticked.body.contains(Self.ja["unconfirmed"] ?? "?"))
        #expect(try await net.sql("SELECT state FROM accounts") == "active")
        // A notice in the folder, to see it go with the account.
        _ = try await net.sql("INSERT INTO notices VALUES ('N1', '\(lp)', 'CITY01', 'tax', 't', 'b', 0, 0, NULL, NULL)")
        let closed = try await net.portal.curl("/account/close", method: "POST", cookies: ["__Host-session": again],
                                               form: "csrf_token=\(closeToken)&confirm=yes")
        #expect(closed.status == 200 && closed.body.contains(Self.ja["closed"] ?? "?"), "\(closed.body)\n\(net.portal.log)")
        #expect(try await net.sql("SELECT state FROM accounts") == "closed")
        #expect(try await net.sql("SELECT (SELECT count(*) FROM bindings) || '|' || (SELECT count(*) FROM notices) || '|' || (SELECT count(*) FROM sessions WHERE lp_link_code IS NOT NULL)") == "0|0|0")
        #expect(try await net.sql("SELECT kind FROM account_events ORDER BY seq") == "opened\nsuspended\nrefused_suspended\nresumed\nclosed")
        // LP is unlinked at the core: PORTAL unlinking it again is told the code is not linked.
        let portal = try await net.daemon.connect(as: "PORTAL")
        defer { Task { await portal.close() } }
        do {
            _ = try await portal.request(.unlink(.with { $0.linkCode = lp }))
            Issue.record("LP is still linked at the core")
        } catch let error as WireError {
            #expect(error.code == .invalidLinkCode)
        }
        // The card now has no account: the login page says to open one.
        let after = try await net.login()
        #expect(after.status == 403 && after.body.contains(Self.ja["no_account"] ?? "?"))
    }
}
