import Foundation
import LinkcoreClient
import LinkcoreRegistry
import LinkcoreSQLite
import LinkcoreWire
import Synchronization
import Testing
import LinkcoreTestSupport

/// Notices to residents (issue 15, item 4) end to end with real processes: linkcored, the
/// matcher, CITY01's `linkcore-adapter run` driven through `POST /notices`, and a PORTAL peer
/// over mutual TLS that keeps what it receives through `NoticeReceiver` (the portal's library end).
@Suite(.serialized) struct NoticeTests {
    static let alice = ChangeEventTests.alice
    static let bob = ChangeEventTests.bob
    /// N1 lets CITY01 send two notice types to the portal; M1 is a mediation row (not a notice).
    static let whitelist = """
        rule_id,bp_id,requester,provider,info_types,valid_from,valid_to
        N1,NOTICE,CITY01,PORTAL,tax-reminder|child-allowance,2020-01-01,
        M1,BP-TAX,CITY01,TAX01,income,2020-01-01,
        """
    static let lpMessage = "link code not valid for this organisation"

    /// The PORTAL's end: every DeliverNotice it acknowledged, in arrival order (duplicates kept,
    /// so a test sees a second delivery if there is one).
    final class PortalInbox: Sendable {
        let notices = Mutex<[ReceivedNotice]>([])

        var handler: IncomingRequestHandler {
            let receiver = NoticeReceiver { notice in self.notices.withLock { $0.append(notice) } }
            return { request in
                if let reply = await receiver.handle(request) { return reply }
                if case .linkIssued? = request.body { return .success(.linkIssuedAck(LCLinkIssuedAck())) }
                return .failure(WireError(.unknownMessage, "not expected"))
            }
        }

        var received: [ReceivedNotice] { notices.withLock { $0 } }

        func wait(count: Int, _ what: String) async throws -> [ReceivedNotice] {
            try await waitFor("\(what): \(received.count) notices, expected \(count)") {
                let now = received
                return now.count >= count ? now : nil
            }
        }
    }

    func startDaemon(_ orgs: [String], temp: TempDirectory) throws -> DaemonProcess {
        let whitelist = temp.url.appendingPathComponent("whitelist.csv").path
        try Self.whitelist.write(toFile: whitelist, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(extraConfig: ["mediation": "whitelist = \"\(whitelist)\""])
        try daemon.addOrg("MATCHER", role: .matcher)
        try daemon.addOrg("PORTAL", role: .portal)
        for org in orgs { try daemon.addOrg(org) }
        return daemon
    }

    func connectPortal(_ daemon: DaemonProcess, _ inbox: PortalInbox) async throws -> LinkcoreConnection {
        try await LinkcoreConnection.connect(
            to: .tcp(host: "127.0.0.1", port: daemon.port), tls: try daemon.pki.clientTLS("PORTAL"),
            hello: LinkcoreConnection.defaultHello(software: "test-portal", acceptsPushes: true), incoming: inbox.handler)
    }

    func send(_ connection: LinkcoreConnection, code: String, type: String = "tax-reminder", key: String) async throws -> LCEnvelope.OneOf_Body? {
        try await connection.request(.sendNotice(.with {
            $0.linkCode = code; $0.noticeType = type; $0.title = "お知らせ"; $0.body = "本文"; $0.idempotencyKey = key
        }))
    }

    @Test func aNoticeThroughTheAdapterReachesThePortalOnceUnderLP() async throws {
        let temp = try TempDirectory()
        let daemon = try startDaemon(["CITY01"], temp: temp)
        try await daemon.start()
        let registryPath = daemon.temp.url.appendingPathComponent("registry.sqlite").path
        try RegistryStore(path: registryPath).insert([Self.alice])
        let matcher = try MatcherProcess(pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("matcher"),
                                         corePort: daemon.port, registryPath: registryPath)
        try await matcher.start()
        defer { matcher.signal(SIGKILL) }
        // The portal's link LP for alice (the portal's account opening is another slice's).
        let lp = try #require(try await daemon.issueLinks(residents: [Self.alice.residentCode], to: ["PORTAL"])["PORTAL"]?[Self.alice.residentCode])

        let dataset = daemon.temp.url.appendingPathComponent("city-answers.sqlite").path
        try await AdapterTests().runAdapterCommand(["dataset", "--db", dataset, "--person", "C-1", "--info", "household", "--answer", "2 persons"])
        let city = try AdapterProcess(org: "CITY01", pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("adapter-CITY01"),
                                      corePort: daemon.port, matcherPort: matcher.port, backend: ["kind = \"dataset\"", "dataset = \"\(dataset)\""])
        try await city.start()
        try await city.waitConnected()
        let (linked, link) = try await city.call("POST", "/links", ["person_id": "C-1", "consent_ref": "consent-1", "facts": AdapterTests.facts])
        #expect(linked == 201, "\(link)\n\(city.log)")

        // The portal is offline: the notice is accepted (durable in the core) all the same.
        let title = "住民税の納付期限のお知らせ"
        let body = "6月30日までに納付してください。\n<script>alert(1)</script>"
        let notice: [String: Any] = ["person_id": "C-1", "notice_type": "tax-reminder", "title": title, "body": body, "idempotency_key": "tax-2026-06-C-1"]
        let (sentStatus, sent) = try await city.call("POST", "/notices", notice)
        #expect(sentStatus == 201, "\(sent)\n\(city.log)")
        let noticeID = try #require(sent["notice_id"] as? String)
        #expect(sent["repeated"] as? Bool == false)

        // Refusals, typed: a type no whitelist row permits, an oversized body, an unknown person.
        var other = notice
        other["notice_type"] = "parking-fine"
        other["idempotency_key"] = "other-1"
        let (refusedStatus, refused) = try await city.call("POST", "/notices", other)
        #expect(refusedStatus == 403)
        #expect((refused["error"] as? [String: Any])?["code"] as? String == "NOT_PERMITTED")
        var large = notice
        large["body"] = String(repeating: "あ", count: 2731)   // 8193 bytes: one over the limit
        large["idempotency_key"] = "large-1"
        let (largeStatus, largeReply) = try await city.call("POST", "/notices", large)
        #expect(largeStatus == 422)
        #expect((largeReply["error"] as? [String: Any])?["code"] as? String == "INVALID_ARGUMENT")
        var nobody = notice
        nobody["person_id"] = "nobody"
        #expect(try await city.call("POST", "/notices", nobody).0 == 404)

        // The portal connects and gets it, under its own code LP, with the sender named.
        let inbox = PortalInbox()
        let portal = try await connectPortal(daemon, inbox)
        let first = try #require(try await inbox.wait(count: 1, "the portal after connecting").first)
        #expect(first.noticeID == noticeID)
        #expect(first.linkCode == lp)
        #expect(first.senderOrg == "CITY01")
        #expect(first.senderName == "Org CITY01")
        #expect(first.noticeType == "tax-reminder")
        #expect(first.title == title)
        #expect(first.body == body)
        #expect(Int(first.sentAtMs) == sent["sent_at_ms"] as? Int)

        // The same key again: the same notice, nothing new stored or delivered. Another key with
        // the same key's fields changed is refused.
        let (againStatus, again) = try await city.call("POST", "/notices", notice)
        #expect(againStatus == 201)
        #expect(again["notice_id"] as? String == noticeID)
        #expect(again["repeated"] as? Bool == true)
        var changed = notice
        changed["title"] = "別の件名"
        #expect(try await city.call("POST", "/notices", changed).0 == 422)
        // A second notice, sent after the repeat, arrives; the first still arrived once (notices
        // leave in the order the core accepted them, so the repeat would have come before it).
        var second = notice
        second["notice_type"] = "child-allowance"
        second["idempotency_key"] = "child-2026-C-1"
        let (secondStatus, secondReply) = try await city.call("POST", "/notices", second)
        #expect(secondStatus == 201)
        let all = try await inbox.wait(count: 2, "the second notice")
        #expect(all.count == 2)
        #expect(all.filter { $0.noticeID == noticeID }.count == 1)
        #expect(all.last?.noticeID == secondReply["notice_id"] as? String)

        // The resident's access log, through LP: one entry per notice, under BP-ID NOTICE.
        guard case let .accessLogPage(page)? = try await portal.request(.accessLogQuery(.with { $0.linkCode = lp })) else {
            throw TestFailure("no access log page")
        }
        #expect(page.entries.map(\.mediationID) == [noticeID, secondReply["notice_id"] as? String ?? ""])
        #expect(page.entries.allSatisfy { $0.bpID == "NOTICE" && $0.requesterOrg == "CITY01" && $0.providerOrg == "PORTAL" && $0.outcome == .answered })
        #expect(page.entries.map(\.infoType) == ["tax-reminder", "child-allowance"])

        // The core never logs the text, and forgets it once the portal has it.
        #expect(!daemon.log.contains(title) && !daemon.log.contains("納付してください"))
        #expect(!city.log.contains(title) && !city.log.contains("納付してください"))
        let db = try SQLiteDatabase(path: daemon.temp.url.appendingPathComponent("state/linkcore.sqlite").path, readOnly: true)
        try await eventually("the core still holds notice texts") {
            try db.query("SELECT count(*) FROM notices WHERE delivered_at IS NOT NULL AND title = '' AND body = ''").first?.int(0) == 2
        }
        await portal.close()
    }

    @Test func forgedCodesGetTheUsualRefusalAndAKilledCoreLosesNoAcceptedNotice() async throws {
        let temp = try TempDirectory()
        let daemon = try startDaemon(["CITY01", "TAX01"], temp: temp)
        try await daemon.start()
        let (a, b) = (Self.alice.residentCode, Self.bob.residentCode)
        let codes = try await daemon.issueLinks(residents: [a, b], to: ["CITY01", "TAX01"])
        let lp = try #require(try await daemon.issueLinks(residents: [a], to: ["PORTAL"])["PORTAL"]?[a])
        let cityAlice = try #require(codes["CITY01"]?[a])
        let city = try await daemon.connect(as: "CITY01")

        // A forged code, another organisation's code, and a resident with no portal account: one
        // refusal, in one wording, for all three.
        let forged = String(cityAlice.dropLast()) + (cityAlice.last == "A" ? "B" : "A")
        for (code, what) in [(forged, "forged"), (codes["TAX01"]?[a] ?? "", "TAX01's"), (codes["CITY01"]?[b] ?? "", "no portal link")] {
            let refusal = await LinkIssuanceTests().refusal { try await send(city, code: code, key: "k-\(what.count)") }
            #expect(refusal?.code == .invalidLinkCode, "\(what)")
            #expect(refusal?.message == Self.lpMessage, "\(what)")
        }
        // No whitelist row for TAX01; the portal may not send notices; a bad type shape.
        let tax = try await daemon.connect(as: "TAX01")
        #expect(await LinkIssuanceTests().refusal { try await send(tax, code: codes["TAX01"]?[a] ?? "", key: "t-1") }?.code == .notPermitted)
        let asPortal = try await daemon.connect(as: "PORTAL")
        #expect(await LinkIssuanceTests().refusal { try await send(asPortal, code: lp, key: "p-1") }?.code == .permissionDenied)
        #expect(await LinkIssuanceTests().refusal { try await send(city, code: cityAlice, type: "bad type", key: "s-1") }?.code == .invalidArgument)
        for connection in [tax, asPortal] { await connection.close() }

        // Accepted while the portal is away; then the core is killed (-9) and restarted.
        guard case let .sendNoticeResponse(accepted)? = try await send(city, code: cityAlice, key: "before-kill") else {
            throw TestFailure("no SendNoticeResponse")
        }
        await city.close()
        daemon.signal(SIGKILL)
        _ = try await daemon.waitForExit()
        try await daemon.restart()

        // The portal connects to the new core and gets the notice, once.
        let inbox = PortalInbox()
        let portal = try await connectPortal(daemon, inbox)
        let first = try #require(try await inbox.wait(count: 1, "the portal after the restart").first)
        #expect(first.noticeID == accepted.noticeID)
        #expect(first.linkCode == lp)
        // A repeat of the accepted key after the restart names the same notice.
        let city2 = try await daemon.connect(as: "CITY01")
        guard case let .sendNoticeResponse(repeated)? = try await send(city2, code: cityAlice, key: "before-kill") else {
            throw TestFailure("no SendNoticeResponse for the repeat")
        }
        #expect(repeated.noticeID == accepted.noticeID && repeated.repeated)
        // A marker notice after it: when it has arrived, everything before it has too.
        guard case let .sendNoticeResponse(marker)? = try await send(city2, code: cityAlice, type: "child-allowance", key: "marker") else {
            throw TestFailure("no SendNoticeResponse for the marker")
        }
        let all = try await inbox.wait(count: 2, "the marker")
        #expect(all.map(\.noticeID) == [accepted.noticeID, marker.noticeID])
        // The operator's view (linkctl status): both accepted, both delivered, from the store.
        try await eventually("the core does not count both notices delivered") {
            let status = try await daemon.status()
            return status.noticesQueued == 2 && status.noticesDelivered == 2 && status.noticesPending == 0
        }
        let (linkctlStatus, printed) = try await daemon.linkctl(["status"])
        #expect(linkctlStatus == 0 && printed.contains("notices: 2 accepted, 2 delivered to the portal, 0 pending"), "\(printed)")
        for connection in [city2, portal] { await connection.close() }
    }
}
