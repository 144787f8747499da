import Foundation
import LinkcorePortal
import LinkcoreRegistry
import LinkcoreWire
import Testing

/// The folder (お知らせ, issue 15 item 4) with real processes: CITY01's `linkcore-adapter run`
/// sends through `POST /notices`, linkcored delivers to a real linkcore-portal, which stores the
/// notice before it acknowledges; the resident reads, and deletes, with curl; sqlite3 reads the
/// portal's file as an independent checker.
@Suite(.serialized) struct PortalFolderTests {
    static let xssTitle = "<b>住民税</b>のお知らせ"
    static let xssBody = "6月30日までに納付してください。\n<script>alert('xss')</script><img src=x onerror=alert(1)>"

    /// A network with CITY01 able to send notices, alice linked to CITY01 (by its adapter) and to
    /// PORTAL, and a portal whose folder keeps "tax-reminder" 30 days and other types until deleted.
    struct Setup {
        let daemon: DaemonProcess
        let matcher: MatcherProcess
        let city: AdapterProcess
        let portal: PortalProcess
        let cookie: [String: String]
        let csrf: String
        func stop() { portal.stop(); matcher.signal(SIGKILL) }
    }

    static func setUp(temp: TempDirectory) async throws -> Setup {
        let daemon = try NoticeTests().startDaemon(["CITY01"], temp: temp)
        try await daemon.start()
        let registryPath = daemon.temp.url.appendingPathComponent("registry.sqlite").path
        try RegistryStore(path: registryPath).insert([NoticeTests.alice])
        let matcher = try MatcherProcess(pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("matcher"),
                                         corePort: daemon.port, registryPath: registryPath)
        try await matcher.start()
        let lp = try #require(try await daemon.issueLinks(residents: [NoticeTests.alice.residentCode], to: ["PORTAL"])["PORTAL"]?[NoticeTests.alice.residentCode])
        let dataset = daemon.temp.url.appendingPathComponent("city-answers.sqlite").path
        try await AdapterTests().runAdapterCommand(["dataset", "--db", dataset, "--person", "C-1", "--info", "household", "--answer", "2 persons"])
        let city = try AdapterProcess(org: "CITY01", pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("adapter-CITY01"),
                                      corePort: daemon.port, matcherPort: matcher.port, backend: ["kind = \"dataset\"", "dataset = \"\(dataset)\""])
        try await city.start()
        try await city.waitConnected()
        let (linked, link) = try await city.call("POST", "/links", ["person_id": "C-1", "consent_ref": "consent-1", "facts": AdapterTests.facts])
        #expect(linked == 201, "\(link)\n\(city.log)")

        let portal = try PortalProcess(pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("portal"),
                                       core: "127.0.0.1:\(daemon.port)",
                                       extra: ["folder": "retention_days = 0\nretention = [\"tax-reminder:30\"]"])
        try await portal.start()
        let session = try await Sessions(store: try PortalStore(path: portal.databasePath),
                                         timeouts: .init(idle: .seconds(900), absolute: .seconds(8 * 3600))).create(lpLinkCode: lp)
        return Setup(daemon: daemon, matcher: matcher, city: city, portal: portal, cookie: [Sessions.cookieName: session.id],
                     csrf: session.csrfToken)
    }

    static func sqlite(_ path: String, _ sql: String, in dir: URL) async throws -> String {
        let run = try await runToExit("/usr/bin/sqlite3", [path, sql], outputDirectory: dir)
        return run.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func noticeIDs(_ html: String) -> [String] {
        html.components(separatedBy: "href=\"/folder/notice?id=").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    @Test func aNoticeSentThroughTheAdapterIsKeptReadAndDeletedInTheFolder() async throws {
        let temp = try TempDirectory()
        let s = try await Self.setUp(temp: temp)
        defer { s.stop() }
        let (portal, cookie) = (s.portal, s.cookie)

        let tax: [String: Any] = ["person_id": "C-1", "notice_type": "tax-reminder", "title": Self.xssTitle, "body": Self.xssBody,
                                  "idempotency_key": "tax-1"]
        let (taxStatus, taxSent) = try await s.city.call("POST", "/notices", tax)
        #expect(taxStatus == 201, "\(taxSent)")
        let child: [String: Any] = ["person_id": "C-1", "notice_type": "child-allowance", "title": "児童手当の認定", "body": "認定しました。",
                                    "idempotency_key": "child-1"]
        let (childStatus, childSent) = try await s.city.call("POST", "/notices", child)
        #expect(childStatus == 201, "\(childSent)")
        let taxID = try #require(taxSent["notice_id"] as? String), childID = try #require(childSent["notice_id"] as? String)

        // Both arrive, stored before the ack: the core marks them delivered only after the portal's file has them.
        let folder = try await waitFor("the notices did not reach the folder\n\(portal.log)") { () -> String? in
            let body = try await portal.curl("/folder", cookies: cookie).body
            return Self.noticeIDs(body).count == 2 ? body : nil
        }
        #expect(Set(Self.noticeIDs(folder)) == [taxID, childID])
        #expect(folder.components(separatedBy: "class=\"notice unread\"").count - 1 == 2)
        #expect(folder.contains("Org CITY01"))
        // Escaped: the markup in the title is text.
        #expect(!folder.contains("<b>住民税</b>"))
        #expect(folder.contains("&lt;b&gt;住民税&lt;/b&gt;のお知らせ"))
        let db = portal.databasePath
        let dir = temp.url
        try await eventually("the core did not see the acks") {
            try await s.daemon.status().noticesDelivered == 2
        }
        // Retention per type, from the portal's [folder]: 30 days for tax-reminder, none for the other.
        let kept = try await Self.sqlite(db, "SELECT expires_at_ms - received_at_ms FROM notices WHERE notice_id = '\(taxID)'", in: dir)
        #expect(kept == "\(30 * 86_400_000)")
        #expect(try await Self.sqlite(db, "SELECT expires_at_ms IS NULL FROM notices WHERE notice_id = '\(childID)'", in: dir) == "1")

        // Opening one marks it read, and shows the body as text.
        let opened = try await portal.curl("/folder/notice?id=\(taxID)", cookies: cookie)
        #expect(opened.status == 200)
        #expect(!opened.body.contains("<script>") && !opened.body.contains("<img"))
        #expect(opened.body.contains("&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;") || opened.body.contains("&lt;script&gt;alert("))
        #expect(opened.header("content-security-policy")?.contains("default-src 'none'") == true)
        #expect(try await Self.sqlite(db, "SELECT read_at_ms IS NOT NULL FROM notices WHERE notice_id = '\(taxID)'", in: dir) == "1")
        let afterOpen = try await portal.curl("/folder", cookies: cookie).body
        #expect(afterOpen.components(separatedBy: "class=\"notice unread\"").count - 1 == 1)
        #expect(afterOpen.components(separatedBy: "class=\"notice read\"").count - 1 == 1)

        // Another resident's id or an unknown one: the same "not found" page, nothing marked.
        let unknown = try await portal.curl("/folder/notice?id=nt-00000000000000000000000000000000", cookies: cookie)
        #expect(unknown.status == 404)
        let otherSession = try await Sessions(store: try PortalStore(path: db), timeouts: .init(idle: .seconds(900), absolute: .seconds(3600)))
            .create(lpLinkCode: "LP-SOMEONE-ELSE")
        let foreign = try await portal.curl("/folder/notice?id=\(childID)", cookies: [Sessions.cookieName: otherSession.id])
        #expect(foreign.status == 404)
        #expect(foreign.body == unknown.body)
        #expect(try await Self.sqlite(db, "SELECT read_at_ms IS NULL FROM notices WHERE notice_id = '\(childID)'", in: dir) == "1")

        // Delete: refused without the session's CSRF token; done (durably) with it.
        let forged = try await portal.curl("/folder/delete", method: "POST", cookies: cookie, form: "id=\(taxID)")
        #expect(forged.status == 403)
        let deleted = try await portal.curl("/folder/delete", method: "POST", cookies: cookie, form: "csrf_token=\(s.csrf)&id=\(taxID)")
        #expect(deleted.status == 200, "\(deleted.body)")
        #expect(try await Self.sqlite(db, "SELECT count(*) FROM notices WHERE notice_id = '\(taxID)'", in: dir) == "0")
        #expect(Self.noticeIDs(try await portal.curl("/folder", cookies: cookie).body) == [childID])
        // Someone else's session deletes nothing of alice's.
        let otherDelete = try await portal.curl("/folder/delete", method: "POST", cookies: [Sessions.cookieName: otherSession.id],
                                                form: "csrf_token=\(otherSession.csrfToken)&id=\(childID)")
        #expect(otherDelete.status == 404)
        #expect(try await Self.sqlite(db, "SELECT count(*) FROM notices", in: dir) == "1")

        // Past its retention (its expiry moved into the past, as time would), a notice leaves the
        // folder and the file.
        _ = try await Self.sqlite(db, "UPDATE notices SET expires_at_ms = 1 WHERE notice_id = '\(childID)'", in: dir)
        #expect(Self.noticeIDs(try await portal.curl("/folder", cookies: cookie).body).isEmpty)
        #expect(try await Self.sqlite(db, "SELECT count(*) FROM notices", in: dir) == "0")

        // The log page shows both notices as entries of alice's access log (BP-ID NOTICE).
        try await eventually("the portal is not connected") { try await portal.curl("/health").body.hasSuffix("core: connected\n") }
        let log = try await portal.curl("/log", cookies: cookie).body
        #expect(PortalLogTests.cells(log, "purpose").filter { $0.hasPrefix("NOTICE") }.count == 2)
        // Logged out: no folder.
        #expect(try await portal.curl("/folder").status == 401)
    }
}
