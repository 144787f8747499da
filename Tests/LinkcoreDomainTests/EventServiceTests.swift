import Foundation
import LinkcoreDomain
import LinkcoreLinkCodes
import LinkcoreStore
import LinkcoreTestSupport
import Synchronization
import Testing

/// The change-event fan-out over a real store of each engine (SQLite, PostgreSQL): who gets an outbox entry, under which
/// code, with or without the kind; dedup of report ids; batches; acknowledgement.
@Suite struct EventServiceTests {
    let path = NSTemporaryDirectory() + "events-\(UUID().uuidString).sqlite"
    let secret = (0..<32).map { UInt8($0) }
    static let t0: Int64 = 1_800_000_000_000   // 2027-01-15 08:00 UTC

    /// A routing that answers from a table by organisation code (or fails for "BROKEN").
    struct TableRouting: EventRouting {
        let table: [String: EventRoutingDecision]
        func route(_ query: EventRoutingQuery) async -> Result<EventRoutingDecision, Refusal> {
            if query.receiver.code == "BROKEN" { return .failure(Refusal(.policyFailure, "module failed")) }
            return .success(table[query.receiver.code] ?? EventRoutingDecision(delivery: nil, revealKind: false))
        }
    }

    final class Clock: Sendable {
        let ms = Mutex(EventServiceTests.t0)
        func advance(_ by: Int64) { ms.withLock { $0 += by } }
        func set(_ to: Int64) { ms.withLock { $0 = to } }
        var now: Int64 { ms.withLock { $0 } }
    }

    func make(_ engine: TestStoreEngine, routing: any EventRouting = DefaultEventRouting(), clock: Clock = Clock(), extraOrgs: [String] = []) async throws -> (LinkService, EventService) {
        let (_, links, events) = try await makeWithStore(engine, routing: routing, clock: clock, extraOrgs: extraOrgs)
        return (links, events)
    }

    /// With the store (to read the release times it recorded), a delivery window and a random source.
    func makeWithStore(_ engine: TestStoreEngine, routing: any EventRouting = DefaultEventRouting(), clock: Clock = Clock(), extraOrgs: [String] = [],
                       windowMs: Int64 = 0, random: EventRandom = .system,
                       releaseClock: StepSafeClock? = nil) async throws -> (any CoreStore & EventStore & NoticeStore, LinkService, EventService) {
        let store = try await TestStore.make(engine).store
        let orgs = try await OrgDirectory(store: store)
        for code in ["CITY01", "TAX01"] + extraOrgs {
            _ = await orgs.add(NewOrganisation(code: code, name: code, sector: .publicBody, role: .agency), nowMs: 0)
        }
        _ = await orgs.add(NewOrganisation(code: "BANK01", name: "Bank", sector: .privateSector, role: .privateConnector), nowMs: 0)
        _ = await orgs.add(NewOrganisation(code: "PORTAL", name: "Portal", sector: .publicBody, role: .portal), nowMs: 0)
        let keyring = try LinkCodeKeyring(masterSecret: secret)
        let hasher = try ResidentHasher(masterSecret: secret)
        let now: @Sendable () -> Int64 = { clock.now }
        return (store, LinkService(store: store, keyring: keyring, hasher: hasher, orgs: orgs, now: now),
                EventService(store: store, keyring: keyring, hasher: hasher, orgs: orgs, routing: routing,
                             deliveryWindowMs: windowMs, random: random, now: now, releaseClock: releaseClock))
    }

    func link(_ links: LinkService, _ resident: String, _ org: String) async throws -> String {
        let number = "M-\(org)-\(resident)"
        return try await links.issue(IssueLinkRequest(
            residentCode: resident, orgCode: org, matchingNumber: number, expiresAtMs: Self.t0 + 600_000
        )).get().issued.linkCode
    }

    func report(_ resident: String, _ kind: ChangeKind? = .moved, id: String) -> ChangeReport {
        ChangeReport(reportID: id, residentCode: resident, kind: kind, occurredAtMs: Self.t0 - 1000)
    }

    @Test(arguments: TestStoreEngine.allCases) func defaultRoutingAddressesEachOrganisationByItsOwnCode(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (links, events) = try await make(engine)
        let city = try await link(links, "10000000001", "CITY01")
        let bank = try await link(links, "10000000001", "BANK01")
        _ = try await link(links, "10000000001", "PORTAL")
        _ = try await link(links, "10000000002", "TAX01")   // another resident

        let fanout = try await events.report(report("10000000001", id: "r1"), reporter: "MATCHER").get()
        #expect(fanout.eventsQueued == 2, "agency and private connector; the portal gets nothing")
        #expect(fanout.receivers == ["BANK01", "CITY01"])

        let cityEvents = try await events.pending(orgCode: "CITY01", limit: 10).get().map(\.event)
        let bankEvents = try await events.pending(orgCode: "BANK01", limit: 10).get().map(\.event)
        #expect(cityEvents.map(\.linkCode) == [city])
        #expect(cityEvents.first?.kind == .moved)
        // Only the day (from 00:00 JST) is passed on: 2027-01-15 08:00 UTC is 17:00 JST on the 15th.
        #expect(cityEvents.first?.occurredAtMs == Self.t0 - 17 * 3_600_000)
        #expect(bankEvents.map(\.linkCode) == [bank])
        #expect(bankEvents.count == 1 && bankEvents.first?.kind == nil, "the kind is withheld from a private receiver")
        #expect(try await events.pending(orgCode: "TAX01", limit: 10).get().isEmpty)
        #expect(try await events.pending(orgCode: "PORTAL", limit: 10).get().isEmpty)
        #expect(cityEvents.first?.eventID != bankEvents.first?.eventID)
    }

    @Test(arguments: TestStoreEngine.allCases) func aRepeatedReportIDQueuesNothingAndAnUnknownResidentQueuesNothing(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (links, events) = try await make(engine)
        _ = try await link(links, "10000000001", "CITY01")
        #expect(try await events.report(report("10000000001", id: "r1"), reporter: "MATCHER").get().eventsQueued == 1)
        let again = try await events.report(report("10000000001", .died, id: "r1"), reporter: "MATCHER").get()
        #expect(again.eventsQueued == 1)
        #expect(again.receivers.isEmpty)
        #expect(try await events.counts()?.queued == 1)
        // Concurrent copies of one new report: still one fan-out.
        async let a = events.report(report("10000000001", id: "r2"), reporter: "MATCHER")
        async let b = events.report(report("10000000001", id: "r2"), reporter: "MATCHER")
        _ = try await (a.get(), b.get())
        #expect(try await events.counts()?.queued == 2)

        let unknown = try await events.report(report("19999999999", id: "r3"), reporter: "MATCHER").get()
        #expect(unknown.eventsQueued == 0)
        #expect(unknown.receivers.isEmpty)
    }

    @Test(arguments: TestStoreEngine.allCases) func badReportsAreRefusedWithTypedErrors(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (_, events) = try await make(engine)
        for bad in [report("123", id: "x"), report("10000000001", id: ""), 
                    // No kind the core knows (the wire's UNSPECIFIED or an unknown number: WireMappingTests).
                    report("10000000001", nil, id: "x")] {
            guard case let .failure(error) = await events.report(bad, reporter: "MATCHER") else {
                Issue.record("accepted \(bad)"); continue
            }
            #expect(error.code == .invalidArgument)
        }
    }

    @Test(arguments: TestStoreEngine.allCases) func aRoutingFailureWritesNothing(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let routing = TableRouting(table: ["CITY01": EventRoutingDecision(delivery: .immediate, revealKind: true)])
        let (links, events) = try await make(engine, routing: routing, extraOrgs: ["BROKEN"])
        _ = try await link(links, "10000000001", "CITY01")
        _ = try await link(links, "10000000001", "BROKEN")
        guard case let .failure(error) = await events.report(report("10000000001", id: "r1"), reporter: "MATCHER") else {
            Issue.record("a failing routing was ignored"); return
        }
        #expect(error.code == .policyFailure)
        #expect(try await events.counts()?.queued == 0)
        // Not recorded as seen either: the matcher's retry is fanned out once routing works.
        #expect(try await events.pending(orgCode: "CITY01", limit: 10).get().isEmpty)
    }

    @Test(arguments: TestStoreEngine.allCases) func dailyBatchesWaitForTheirTimeAndAcknowledgementsAreOwnOnly(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let routing = TableRouting(table: [
            "CITY01": EventRoutingDecision(delivery: .dailyBatch, revealKind: true),
            "BANK01": EventRoutingDecision(delivery: .dailyBatch, revealKind: true),
        ])
        let clock = Clock()
        let (links, events) = try await make(engine, routing: routing, clock: clock)
        _ = try await link(links, "10000000001", "CITY01")
        _ = try await link(links, "10000000001", "BANK01")
        let fanout = try await events.report(report("10000000001", .renamed, id: "r1"), reporter: "MATCHER").get()
        #expect(fanout.eventsQueued == 2)
        #expect(fanout.receivers == ["BANK01", "CITY01"])
        #expect(try await events.fetch(orgCode: "CITY01", max: 10).get().isEmpty, "batches are not sent at once")
        // 18:00 UTC the same day is the batch time after 08:00 UTC.
        #expect(events.nextBatch(after: Self.t0) == Self.t0 + 10 * 3_600_000)
        clock.advance(10 * 3_600_000)
        let due = try await events.fetch(orgCode: "CITY01", max: 10).get()
        #expect(due.count == 1)
        #expect(due.first?.kind == .renamed, "the policy may reveal the kind even to a private receiver")
        let bankDue = try await events.fetch(orgCode: "BANK01", max: 10).get()
        #expect(bankDue.first?.kind == .renamed)

        // BANK01 cannot acknowledge CITY01's event; CITY01 can, once.
        let ids = due.map(\.eventID)
        #expect(try await events.acknowledge(orgCode: "BANK01", eventIDs: ids).get() == 0)
        #expect(try await events.acknowledge(orgCode: "CITY01", eventIDs: ids).get() == 1)
        #expect(try await events.acknowledge(orgCode: "CITY01", eventIDs: ids).get() == 0)
        #expect(try await events.fetch(orgCode: "CITY01", max: 10).get().isEmpty)
        let counts = try #require(await events.counts())
        #expect(counts.queued == 2 && counts.delivered == 1 && counts.pending == 1)
    }

    @Test(arguments: TestStoreEngine.allCases) func anEndedLinkGetsNoEventAndPagesAreBounded(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (links, events) = try await make(engine)
        let code = try await link(links, "10000000001", "CITY01")
        for i in 0..<5 { _ = try await events.report(report("10000000001", id: "r\(i)"), reporter: "MATCHER").get() }
        let page = try await events.pending(orgCode: "CITY01", limit: 2).get()
        #expect(page.count == 2)
        let next = try await events.pending(orgCode: "CITY01", after: page[1].position, limit: 10).get()
        #expect(next.count == 3)
        #expect(Set((page + next).map(\.event.eventID)).count == 5)
        _ = try await links.unlink(code: code, orgCode: "CITY01").get()
        #expect(try await events.pending(orgCode: "CITY01", limit: 10).get().isEmpty)
    }
}
