import Foundation
import LinkcorePortal
import LinkcoreTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The portal as a child process over real HTTPS (its own TLS handler on OpenSSL), checked with
/// curl trusting only the test CA. No core is running: the pages do not need one.
@Suite struct PortalHTTPSTests {
    let temp: TempDirectory
    let portal: PortalProcess

    init() async throws {
        temp = try TempDirectory()
        let pki = try TestPKI(directory: temp.url.appendingPathComponent("pki"))
        portal = try PortalProcess(pki: pki, directory: temp.url.appendingPathComponent("portal"))
        try await portal.start()
    }

    /// A session the card login (a later slice) would make, written into the portal's own
    /// SQLite file as that code will: through `Sessions`, with the clock given.
    func loggedInSession(createdAgo: TimeInterval = 0) async throws -> Sessions.Session {
        let store = try PortalStore(path: portal.databasePath)
        let sessions = Sessions(store: store, timeouts: .init(idle: .seconds(900), absolute: .seconds(8 * 3600)),
                                now: { Date().addingTimeInterval(-createdAgo) })
        return try await sessions.create(lpLinkCode: "LP-TEST-RESIDENT")
    }

    @Test func landingPageIsJapaneseFirstWithAnEnglishSwitch() async throws {
        let ja = try await portal.curl("/")
        #expect(ja.status == 200)
        #expect(ja.header("content-type") == "text/html; charset=utf-8")
        #expect(ja.body.contains("<html lang=\"ja\">") && ja.body.contains("<h1>マイポータル</h1>"))
        #expect(ja.body.contains("href=\"/?lang=en\"") && ja.body.contains("カードでログイン"))
        // The landing page has no form, so it makes no session.
        #expect(ja.cookie(Sessions.cookieName) == nil)

        let en = try await portal.curl("/?lang=en")
        #expect(en.body.contains("<html lang=\"en\">") && en.body.contains("<h1>My Portal</h1>") && en.body.contains("href=\"/?lang=ja\""))
        #expect(en.cookie(PortalSite.languageCookie) == "en")
        #expect(en.all("set-cookie").first?.hasSuffix("; Path=/; Max-Age=31536000; Secure; HttpOnly; SameSite=Strict") == true)
        // The choice is remembered on the other pages.
        let login = try await portal.curl("/login", cookies: [PortalSite.languageCookie: "en"])
        #expect(login.body.contains("Log in with your My Number Card"))
        // An unknown language is Japanese.
        #expect(try await portal.curl("/", cookies: [PortalSite.languageCookie: "fr"]).body.contains("<html lang=\"ja\">"))
    }

    @Test func sessionCookieIsHostPrefixedHttpOnlySecureStrictAndStoredOnlyHashed() async throws {
        let page = try await portal.curl("/login")
        #expect(page.status == 200)
        let line = try #require(page.all("set-cookie").first { $0.hasPrefix(Sessions.cookieName + "=") })
        let id = try #require(page.cookie(Sessions.cookieName))
        #expect(line == "\(Sessions.cookieName)=\(id); Path=/; Secure; HttpOnly; SameSite=Strict")
        #expect(id.count == 43)  // 256 bits, base64url
        // The form carries the session's CSRF token.
        #expect(page.body.contains("name=\"csrf_token\" value=\""))
        // The portal's file holds a 32-byte hash, never the cookie's value (checked with sqlite3).
        let dump = try await runToExit("/usr/bin/sqlite3", [portal.databasePath, "SELECT hex(id_hash), length(id_hash) FROM sessions"],
                                       outputDirectory: temp.url)
        #expect(dump.status == 0 && dump.output.contains("|32"))
        let file = try Data(contentsOf: URL(fileURLWithPath: portal.databasePath))
            + ((try? Data(contentsOf: URL(fileURLWithPath: portal.databasePath + "-wal"))) ?? Data())
        #expect(file.range(of: Data(id.utf8)) == nil)
        // The same cookie resumes the session: no second cookie.
        #expect(try await portal.curl("/login", cookies: [Sessions.cookieName: id]).cookie(Sessions.cookieName) == nil)
    }

    @Test func formsWithoutTheirSessionsCSRFTokenAreRefused() async throws {
        let visitor = try await portal.curl("/login")
        let id = try #require(visitor.cookie(Sessions.cookieName))
        let cookies = [Sessions.cookieName: id]
        let missing = try await portal.curl("/logout", method: "POST", cookies: cookies, form: "x=1")
        #expect(missing.status == 403 && missing.body.contains("フォームを受け付けられませんでした") && missing.body.contains("もう一度操作してください"))
        let other = try await portal.curl("/login")  // another visitor's token
        let otherToken = try #require(Self.csrf(in: other.body))
        #expect(try await portal.curl("/logout", method: "POST", cookies: cookies, form: "csrf_token=\(otherToken)").status == 403)
        // The right token from a foreign page (Origin) is refused too.
        let token = try #require(Self.csrf(in: visitor.body))
        #expect(try await portal.curl("/logout", method: "POST", headers: ["Origin: https://evil.example"], cookies: cookies,
                                      form: "csrf_token=\(token)").status == 403)
        // The login form with its token is accepted (the card step itself is still to come).
        let login = try await portal.curl("/login", method: "POST", headers: ["Origin: \(portal.url)"], cookies: cookies, form: "csrf_token=\(token)")
        #expect(login.status == 501 && login.body.contains("準備中"))
        // A form too large for the limit: 413, a page saying what to do.
        let huge = try await portal.curl("/login", method: "POST", cookies: cookies,
                                         form: "csrf_token=\(token)&pad=" + String(repeating: "a", count: 20_000))
        #expect(huge.status == 413 && huge.body.contains("ページを開き直して"))
    }

    @Test func logoutEndsTheSessionAndClearsTheCookie() async throws {
        let session = try await loggedInSession()
        let cookies = [Sessions.cookieName: session.id]
        let home = try await portal.curl("/home", cookies: cookies)
        #expect(home.status == 200 && home.body.contains("ログインしています"))
        #expect(home.header("cache-control") == "no-store")
        // Nothing about the resident in the page's links or the answer's headers.
        #expect(!home.body.contains("LP-TEST-RESIDENT") && !home.headers.contains { $0.value.contains("LP-TEST") })
        let token = try #require(Self.csrf(in: home.body))
        #expect(token == session.csrfToken)
        let out = try await portal.curl("/logout", method: "POST", cookies: cookies, form: "csrf_token=\(token)")
        #expect(out.status == 200 && out.body.contains("ログアウトしました"))
        #expect(out.all("set-cookie").contains("\(Sessions.cookieName)=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict"))
        let after = try await portal.curl("/home", cookies: cookies)
        #expect(after.status == 401 && after.body.contains("もう一度カードでログインしてください"))
    }

    @Test func forgedAndExpiredSessionCookiesGetTheLoggedOutPage() async throws {
        let forged = try await portal.curl("/home", cookies: [Sessions.cookieName: String(repeating: "A", count: 43)])
        #expect(forged.status == 401 && forged.body.contains("ログインしていません") && forged.body.contains("href=\"/login\""))
        #expect(forged.cookie(Sessions.cookieName) == "")  // cleared
        let garbage = try await portal.curl("/home", cookies: [Sessions.cookieName: "<script>alert(1)</script>"])
        #expect(garbage.status == 401 && !garbage.body.contains("<script>"))
        // Made 9 hours ago: past the 8 h absolute timeout (and the 15 min idle one).
        let old = try await loggedInSession(createdAgo: 9 * 3600)
        let expired = try await portal.curl("/home", cookies: [Sessions.cookieName: old.id])
        #expect(expired.status == 401 && expired.body.contains("ログインの有効期限が切れたか"))
        // In English when asked.
        let english = try await portal.curl("/home", cookies: [Sessions.cookieName: old.id, PortalSite.languageCookie: "en"])
        #expect(english.status == 401 && english.body.contains("Log in with your card again"))
        // A POST with a dead session is the logged-out page too, not a CSRF one.
        #expect(try await portal.curl("/logout", method: "POST", cookies: [Sessions.cookieName: old.id], form: "csrf_token=\(old.csrfToken)").status == 401)
    }

    @Test func everyAnswerCarriesTheSecurityHeaders() async throws {
        let session = try await loggedInSession()
        let answers = [
            try await portal.curl("/"), try await portal.curl("/login"), try await portal.curl("/home", cookies: [Sessions.cookieName: session.id]),
            try await portal.curl("/home"), try await portal.curl("/nowhere"), try await portal.curl("/", method: "DELETE"),
            try await portal.curl("/static/portal.css"), try await portal.curl("/health"),
        ]
        #expect(answers.map(\.status) == [200, 200, 200, 401, 404, 405, 200, 200])
        for answer in answers {
            let csp = try #require(answer.header("content-security-policy"))
            #expect(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"))
            #expect(!csp.contains("script-src"))  // no script at all until the card step
            #expect(answer.header("x-frame-options") == "DENY")
            #expect(answer.header("x-content-type-options") == "nosniff")
            #expect(answer.header("referrer-policy") == "same-origin")
            #expect(answer.header("strict-transport-security") == "max-age=31536000")
        }
        for answer in answers where answer.header("content-type")?.hasPrefix("text/html") == true {
            #expect(answer.header("cache-control") == "no-store")
            #expect(!answer.body.contains("<script"))  // and no inline script
        }
        // Error pages say what to do next, with a link.
        #expect(answers[4].body.contains("ページが見つかりません") && answers[4].body.contains("href=\"/\""))
    }

    @Test func aHostileHostHeaderGetsNothingButARefusal() async throws {
        for host in ["evil.example", "evil.example:\(portal.port)", "localhost:1", "localhost.evil.example:\(portal.port)"] {
            let answer = try await portal.curl("/login", headers: ["Host: \(host)"])
            #expect(answer.status == 421, "Host: \(host)")
            #expect(answer.cookie(Sessions.cookieName) == nil && !answer.body.contains("evil"))
            #expect(answer.body.contains("このアドレスでは利用できません"))
        }
        #expect(try await portal.curl("/", headers: ["Host: 127.0.0.1:\(portal.port)"]).status == 200)
    }

    @Test func healthSaysTheCoreIsNotConnectedAndSIGTERMEndsCleanly() async throws {
        let health = try await portal.curl("/health")
        #expect(health.status == 200 && health.body == "portal: up\ncore: not connected\n")
        portal.process.signal(SIGTERM)
        #expect(try await portal.process.exitStatus(detail: portal.log) == 0)
    }

    /// The serial of the certificate the portal presents now, as `openssl s_client` sees it.
    func presentedSerial() async throws -> String {
        let shown = try await runToExit("/bin/sh", ["-c",
            "openssl s_client -connect 127.0.0.1:\(portal.port) -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -serial"],
            outputDirectory: temp.url)
        return shown.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func sighupLoadsARenewedCertificateWithoutARestart() async throws {
        let before = try await presentedSerial()
        #expect(before.hasPrefix("serial="))
        try portal.pki.issueServer(name: "portal-https")  // renewed: same files, new serial
        portal.process.signal(SIGHUP)
        try await eventually("the portal still presents \(before)\n\(portal.log)") {
            let now = try await presentedSerial()
            return now.hasPrefix("serial=") && now != before
        }
        #expect(portal.process.isRunning)
        #expect(try await portal.curl("/").status == 200)  // curl verifies the new one against the CA
    }

    @Test func aBadConfigurationExitsWithEXCONFIG() async throws {
        let bad = try temp.write("bad.toml", "[https]\ncertificate = \"/nonexistent.pem\"\nprivate_key = \"/nonexistent.key\"\n")
        let run = try await runToExit(PortalProcess.productPath("linkcore-portal"), ["run", "--config", bad], outputDirectory: temp.url)
        #expect(run.status == 78 && run.output.contains("[core]"))
    }

    static func csrf(in page: String) -> String? {
        guard let range = page.range(of: "name=\"csrf_token\" value=\"") else { return nil }
        return String(page[range.upperBound...].prefix { $0 != "\"" })
    }
}
