import Foundation
import LinkcoreClient
import LinkcoreRegistry
import LinkcoreWire
import Synchronization
import Testing
import LinkcoreTestSupport

/// Change events end to end with real processes: linkcored, linkcore-matcher serving a real
/// registry and forwarding its change log, `linkcore-matcher registry change` as a clerk runs
/// it, and organisations connected over mutual TLS.
@Suite(.serialized) struct ChangeEventTests {
    /// An organisation's adapter: collects ChangeEvents (acknowledging them, or refusing them
    /// all when `refuse` is set) and acknowledges LinkIssued pushes.
    final class EventInbox: Sendable {
        let events = Mutex<[LCChangeEvent]>([])
        /// When each event arrived (wall clock, ms since 1970), by event id.
        let arrivals = Mutex<[String: Int64]>([:])
        let refused = Mutex<[String]>([])
        let refuse: Bool

        init(refuse: Bool = false) { self.refuse = refuse }

        var handler: IncomingRequestHandler {
            { request in
                switch request.body {
                case let .changeEvent(event)?:
                    if self.refuse {
                        self.refused.withLock { $0.append(event.eventID) }
                        return .failure(WireError(.unavailable, "adapter busy"))
                    }
                    self.arrivals.withLock { $0[event.eventID] = Int64(Date().timeIntervalSince1970 * 1000) }
                    self.events.withLock { $0.append(event) }
                    return .success(.changeEventAck(LCChangeEventAck()))
                case .linkIssued?:
                    return .success(.linkIssuedAck(LCLinkIssuedAck()))
                default:
                    return .failure(WireError(.unknownMessage, "not expected"))
                }
            }
        }

        var received: [LCChangeEvent] { events.withLock { $0 } }

        func wait(count: Int, _ what: String) async throws -> [LCChangeEvent] {
            try await waitFor("\(what): \(received.count) change events, expected \(count)") {
                let now = received
                return now.count >= count ? now : nil
            }
        }

        func waitRefused() async throws -> [String] {
            try await waitFor("no change event was pushed") {
                let now = refused.withLock { $0 }
                return now.isEmpty ? nil : now
            }
        }
    }

    static let alice = LinkIssuanceTests.alice
    static let bob = Resident(residentCode: "10000000004", myNumber: LinkIssuanceTests.myNumber("12345678904"), name: "鈴木 一郎",
                              nameKana: "スズキ イチロウ", address: "北海道札幌市中央区北1条西2丁目", birthDate: "1955-07-07", sex: .male)

    struct Network {
        let daemon: DaemonProcess
        let matcher: MatcherProcess
        let registryPath: String

        func connectToMatcher(as org: String) async throws -> LinkcoreConnection {
            try await matcher.connect(as: org)
        }

        func connect(_ org: String, inbox: EventInbox?) async throws -> LinkcoreConnection {
            try await LinkcoreConnection.connect(
                to: .tcp(host: "127.0.0.1", port: daemon.port), tls: try daemon.pki.clientTLS(org),
                hello: LinkcoreConnection.defaultHello(software: "test-adapter", acceptsPushes: inbox != nil), incoming: inbox?.handler)
        }

        /// Links the resident to the organisation the way an organisation does: facts to the
        /// matcher, then the link fetched from the core by matching number.
        func link(_ resident: Resident, to org: String) async throws -> String {
            let atMatcher = try await connectToMatcher(as: org)
            defer { Task { await atMatcher.close() } }
            guard case let .matchAccepted(ticket)? = try await atMatcher.request(.matchRequest(LinkIssuanceTests().matchRequest(resident))) else {
                throw TestFailure("no MatchAccepted for \(org)")
            }
            let core = try await connect(org, inbox: nil)
            defer { Task { await core.close() } }
            guard case let .fetchLinkResponse(fetched)? = try await core.request(.fetchLink(.with { $0.matchingNumber = ticket.matchingNumber })) else {
                throw TestFailure("no link for \(org)")
            }
            return fetched.link.linkCode
        }

        /// Records a change with the matcher's own command line, as a registry clerk would.
        func change(_ resident: Resident, _ arguments: [String]) async throws {
            let log = daemon.temp.url.appendingPathComponent("change.log").path
            let command = ChildProcess(executable: Products.path("linkcore-matcher"),
                                       arguments: ["registry", "change", "--db", registryPath, "--resident", resident.residentCode] + arguments,
                                       environment: ProcessInfo.processInfo.environment, outputPath: log)
            try command.run()
            guard try await command.exitStatus() == 0 else {
                throw TestFailure("registry change failed: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            }
        }

        /// Waits until the matcher's cursor shows the core acknowledged `sequence`.
        func waitReported(_ sequence: Int64) async throws {
            let store = try RegistryStore(path: registryPath)
            try await eventually("the matcher did not report change \(sequence)") { try store.reportingCursor().sequence >= sequence }
        }
    }

    /// The delivery window these tests run with: small, but not zero, so that every event goes
    /// through a release time and the dispatcher's wake-up (protocol.md §9.2).
    static let windowMs: Int64 = 300

    func startNetwork(_ orgs: [(String, LCRole, LCSector)], windowMs: Int64 = Self.windowMs,
                      engine: TestStoreEngine = .sqlite) async throws -> Network {
        let daemon = try await DaemonProcess.make(engine: engine, extraConfig: ["events": "delivery_window_ms = \(windowMs)"])
        try daemon.addOrg("MATCHER", role: .matcher)
        for (code, role, sector) in orgs { try daemon.addOrg(code, role: role, sector: sector) }
        try await daemon.start()
        let registryPath = daemon.temp.url.appendingPathComponent("registry.sqlite").path
        try RegistryStore(path: registryPath).insert([Self.alice, Self.bob])
        let matcher = try MatcherProcess(pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("matcher"),
                                         corePort: daemon.port, registryPath: registryPath)
        try await matcher.start()
        return Network(daemon: daemon, matcher: matcher, registryPath: registryPath)
    }

    func waitStatus(_ daemon: DaemonProcess, _ done: (LCStatus) -> Bool) async throws -> LCStatus {
        // On a time-out the last status is returned: the caller's expectations say what is wrong.
        var last: LCStatus?
        do {
            return try await waitFor("") {
                let status = try await daemon.status()
                last = status
                return done(status) ? status : nil
            }
        } catch let timeout as TestFailure {
            guard let last else { throw timeout }
            return last
        }
    }

    @Test(arguments: TestStoreEngine.allCases)
    func aChangeReachesEveryLinkedOrganisationUnderItsOwnCode(engine: TestStoreEngine) async throws {
        let network = try await startNetwork([("CITY01", .agency, .public), ("TAX01", .agency, .public),
                                              ("BANK01", .privateConnector, .private), ("OTHER01", .agency, .public)], engine: engine)
        defer { network.matcher.signal(SIGKILL) }
        let cityCode = try await network.link(Self.alice, to: "CITY01")
        let taxCode = try await network.link(Self.alice, to: "TAX01")
        let bankCode = try await network.link(Self.alice, to: "BANK01")
        _ = try await network.link(Self.bob, to: "OTHER01")   // OTHER01 knows bob, not alice

        // TAX01 is offline when the change happens; the others are connected and take pushes.
        let (cityInbox, bankInbox, otherInbox) = (EventInbox(), EventInbox(), EventInbox())
        let city = try await network.connect("CITY01", inbox: cityInbox)
        let bank = try await network.connect("BANK01", inbox: bankInbox)
        let other = try await network.connect("OTHER01", inbox: otherInbox)

        try await network.change(Self.alice, ["--moved", "東京都港区芝公園4丁目2番8号"])
        let cityEvent = try #require(try await cityInbox.wait(count: 1, "CITY01").first)
        let bankEvent = try #require(try await bankInbox.wait(count: 1, "BANK01").first)
        #expect(cityEvent.linkCode == cityCode)
        #expect(cityEvent.kind == .moved)
        #expect(bankEvent.linkCode == bankCode)
        #expect(bankEvent.kind == .unspecified, "a private connector gets \"changed\", not the kind")
        #expect(cityEvent.eventID != bankEvent.eventID)
        #expect(cityEvent.occurredAtMs > 0)

        // The offline organisation gets its event, under its own code, when it connects.
        let taxInbox = EventInbox()
        let tax = try await network.connect("TAX01", inbox: taxInbox)
        let taxEvent = try #require(try await taxInbox.wait(count: 1, "TAX01 after connecting").first)
        #expect(taxEvent.linkCode == taxCode)
        #expect(taxEvent.kind == .moved)
        #expect(Set([cityEvent.eventID, bankEvent.eventID, taxEvent.eventID]).count == 3)

        // Every acknowledgement is durable and counted; nothing went to OTHER01.
        let status = try await waitStatus(network.daemon) { $0.eventsDelivered == 3 }
        #expect(status.eventsQueued == 3)
        #expect(status.eventsDelivered == 3)
        #expect(status.eventsPending == 0)
        #expect(otherInbox.received.isEmpty)
        guard case let .fetchEventsResponse(nothing)? = try await other.request(.fetchEvents(.with { $0.max = 10 })) else {
            Issue.record("no FetchEventsResponse"); return
        }
        #expect(nothing.events.isEmpty)

        // Only the matching authority may report changes; an organisation is refused.
        var forged = LCReportChange()
        forged.residentCode = Self.alice.residentCode
        forged.kind = .died
        forged.reportID = "forged-1"
        let refusal = await LinkIssuanceTests().refusal { try await city.request(.reportChange(forged)) }
        #expect(refusal?.code == .permissionDenied)
        #expect(try await network.daemon.status().eventsQueued == 3)

        for connection in [city, bank, other, tax] { await connection.close() }
    }

    @Test func anEventPushedButNotAcknowledgedComesAgainAndCanBeFetched() async throws {
        let network = try await startNetwork([("CITY01", .agency, .public)])
        defer { network.matcher.signal(SIGKILL) }
        let code = try await network.link(Self.alice, to: "CITY01")

        // The adapter refuses the push: the event stays pending.
        let busy = EventInbox(refuse: true)
        let first = try await network.connect("CITY01", inbox: busy)
        try await network.change(Self.alice, ["--renamed", "山田 花", "--kana", "ヤマダ ハナ"])
        let pushed = try await busy.waitRefused()
        #expect(try await network.daemon.status().eventsPending == 1)
        await first.close()

        // After a reconnect the same event (same id) is delivered again and acknowledged.
        let inbox = EventInbox()
        let second = try await network.connect("CITY01", inbox: inbox)
        let again = try #require(try await inbox.wait(count: 1, "after reconnect").first)
        #expect(again.eventID == pushed.first)
        #expect(again.linkCode == code)
        #expect(again.kind == .renamed)
        _ = try await waitStatus(network.daemon) { $0.eventsPending == 0 }
        await second.close()

        // Pulling instead of pushes: FetchEvents returns it until AckEvents, then nothing.
        try await network.change(Self.alice, ["--moved", "東京都千代田区丸の内1丁目1番1号"])
        try await network.waitReported(2)
        let puller = try await network.connect("CITY01", inbox: nil)
        // Not before its release time (within the delivery window): poll until it is released.
        let fetched = try await waitFor("the event was never released") { () async throws -> LCFetchEventsResponse? in
            guard case let .fetchEventsResponse(response)? = try await puller.request(.fetchEvents(.with { $0.max = 10 })) else {
                throw TestFailure("no FetchEventsResponse")
            }
            return response.events.isEmpty ? nil : response
        }
        guard case let .fetchEventsResponse(refetched)? = try await puller.request(.fetchEvents(.with { $0.max = 10 })) else {
            Issue.record("no FetchEventsResponse"); return
        }
        #expect(fetched.events.count == 1)
        #expect(fetched.events.first?.linkCode == code)
        #expect(fetched.events.first?.kind == .moved)
        #expect(refetched.events.map(\.eventID) == fetched.events.map(\.eventID), "unacknowledged events are fetched again")
        let ids = fetched.events.map(\.eventID) + ["ev-not-ours"]
        guard case let .ackEventsResponse(ack)? = try await puller.request(.ackEvents(.with { $0.eventIds = ids })),
              case let .fetchEventsResponse(after)? = try await puller.request(.fetchEvents(.with { $0.max = 10 })) else {
            Issue.record("no AckEventsResponse"); return
        }
        #expect(ack.acknowledged == 1)
        #expect(after.events.isEmpty)
        await puller.close()
    }

    @Test func killDashNineAfterTheReportLosesNoEventAndReportsAreNotFannedOutTwice() async throws {
        let network = try await startNetwork([("CITY01", .agency, .public), ("BANK01", .privateConnector, .private)])
        defer { network.matcher.signal(SIGKILL) }
        let daemon = network.daemon
        let cityCode = try await network.link(Self.alice, to: "CITY01")
        let bankCode = try await network.link(Self.alice, to: "BANK01")

        // Both organisations are away. The core acknowledges the report (the matcher's cursor
        // moves only after ReportChangeResponse), then dies before delivering anything.
        try await network.change(Self.alice, ["--died"])
        try await network.waitReported(1)
        daemon.signal(SIGKILL)
        _ = try await daemon.waitForExit()

        try await daemon.restart()
        let status = try await daemon.status()
        #expect(status.eventsQueued == 2)
        #expect(status.eventsPending == 2)

        let (cityInbox, bankInbox) = (EventInbox(), EventInbox())
        let city = try await network.connect("CITY01", inbox: cityInbox)
        let bank = try await network.connect("BANK01", inbox: bankInbox)
        let cityEvent = try #require(try await cityInbox.wait(count: 1, "CITY01 after restart").first)
        let bankEvent = try #require(try await bankInbox.wait(count: 1, "BANK01 after restart").first)
        #expect(cityEvent.linkCode == cityCode)
        #expect(cityEvent.kind == .died)
        #expect(bankEvent.linkCode == bankCode)
        #expect(bankEvent.kind == .unspecified)

        // The matcher re-sending the same report (as after its own crash) queues nothing new.
        let registry = try RegistryStore(path: network.registryPath)
        let instance = try registry.reportingCursor().instance
        var resend = LCReportChange()
        resend.residentCode = Self.alice.residentCode
        resend.kind = .died
        resend.reportID = RegistryStore.reportID(instance: instance, sequence: 1)
        let asMatcher = try await daemon.connect(as: "MATCHER")
        guard case let .reportChangeResponse(duplicate)? = try await asMatcher.request(.reportChange(resend)) else {
            Issue.record("no ReportChangeResponse"); return
        }
        #expect(duplicate.eventsQueued == 2, "a duplicate is acknowledged with the first count")

        // A resident the core has never linked: acknowledged, nothing queued, nothing said.
        var unknown = resend
        unknown.residentCode = "19999999999"
        unknown.reportID = "unknown-1"
        guard case let .reportChangeResponse(none)? = try await asMatcher.request(.reportChange(unknown)) else {
            Issue.record("no ReportChangeResponse"); return
        }
        #expect(none.eventsQueued == 0)

        let after = try await waitStatus(daemon) { $0.eventsDelivered == 2 }
        #expect(after.eventsQueued == 2)
        #expect(after.eventsPending == 0)
        #expect(cityInbox.received.count == 1)
        #expect(bankInbox.received.count == 1)
        for connection in [city, bank, asMatcher] { await connection.close() }
    }
}
