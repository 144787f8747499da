import Foundation
import LinkcoreAudit
import LinkcoreDomain
import LinkcoreStore
import LinkcoreTestSupport
import Synchronization
import Testing

/// Idempotency keys at the mediator, over a real SQLite store (protocol.md §8): what is one
/// mediation for the log and the ledger, and for how long.
@Suite struct MediatorRetryTests {
    struct FlatTariff: Tariff {
        func price(_ operation: FeeCharge.Operation, payer: Organisation, bpID: String, atMs: Int64) async -> Result<Price?, Refusal> {
            .success(Price(amountYen: 10, tariffID: "T-FLAT"))
        }
    }

    /// A clock the test moves by hand: `add` is time passing (wall and monotonic clocks alike),
    /// `step` a step of the wall clock alone (an NTP step, `date -s`).
    final class Clock: Sendable {
        final class Readings: Sendable {
            let wall = Atomic<Int64>(MediatorTests.now)
            let monotonic = Atomic<Int64>(0)
        }
        private let readings: Readings
        /// The mediator's key clock on these readings, anchored when the test starts.
        let keyClock: StepSafeClock
        init() {
            let r = Readings()
            readings = r
            keyClock = StepSafeClock(wallMs: { r.wall.load(ordering: .relaxed) }, elapsedMs: { r.monotonic.load(ordering: .relaxed) })
        }
        func add(_ delta: Int64) { readings.wall.add(delta, ordering: .relaxed); readings.monotonic.add(delta, ordering: .relaxed) }
        func step(_ delta: Int64) { readings.wall.add(delta, ordering: .relaxed) }
        var now: Int64 { readings.wall.load(ordering: .relaxed) }
    }

    let base = MediatorTests()
    let clock = Clock()

    func mediator(_ w: MediatorTests.World, windowMs: Int64 = 60_000) -> Mediator {
        Mediator(store: w.store, links: w.links, whitelist: TestWhitelist("R1,BP1,CITY01,TAX01,income,,"),
                 providers: w.providers, tariff: FlatTariff(),
                 settings: .init(defaultDeadlineMs: 500, maxDeadlineMs: 2_000, maxPayloadBytes: 16, idempotencyWindowMs: windowMs),
                 now: { [clock] in clock.now }, keyClock: clock.keyClock)
    }

    func keyed(_ w: MediatorTests.World, _ key: String, resident: String = "10000000001") -> MediationRequest {
        var r = base.request(w.code("CITY01", resident))
        r.idempotencyKey = key
        return r
    }

    func entries(_ w: MediatorTests.World) async throws -> [LoggedAccess] {
        let id = try #require(try await w.links.open(w.code("CITY01", "10000000001"), orgCode: "CITY01")).idCode
        return try await w.store.loggedAccess(idCode: id, fromMs: 0, toMs: .max, afterPosition: 0, limit: 100)
    }

    func charges(_ w: MediatorTests.World) async throws -> UInt64 {
        try await w.store.feeLines(payer: "CITY01", fromMs: 0, toMs: .max).entries
    }

    @Test(arguments: TestStoreEngine.allCases) func unansweredAttemptsAreLoggedAsTheyHappenedAndTheAnswerOnce(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: base.path) }
        let w = try await base.makeWorld(engine)
        let m = mediator(w)
        // B offline: a decision of its own, logged, not charged; the key names this mediation.
        w.providers.reply.withLock { $0 = .unavailable }
        let first = await m.mediate(keyed(w, "k-1"), requester: "CITY01")
        #expect(first.reply.failure?.code == .providerUnavailable && first.logged)
        // B back: the retry keeps the mediation id, is logged (answered) and charged once.
        w.providers.reply.withLock { $0 = .answered(Array("42".utf8)) }
        let second = await m.mediate(keyed(w, "k-1"), requester: "CITY01")
        #expect(try second.reply.get().mediationID == first.id && !second.repeated)
        #expect(w.providers.asked.withLock { $0.map(\.1.mediationID) } == [first.id, first.id])
        // Answered again: counted on the answered entry; B's answer relayed fresh.
        w.providers.reply.withLock { $0 = .answered(Array("43".utf8)) }
        let third = await m.mediate(keyed(w, "k-1"), requester: "CITY01")
        #expect(try third.reply.get().answer == Data("43".utf8) && third.repeated && (try third.reply.get().repeated))
        // Not answered this time: the error is A's, nothing is written.
        w.providers.reply.withLock { $0 = .timedOut }
        let fourth = await m.mediate(keyed(w, "k-1"), requester: "CITY01")
        #expect(fourth.reply.failure?.code == .providerTimeout)
        let logged = try await entries(w)
        #expect(logged.map(\.chained.record.outcome) == [.providerUnavailable, .answered])
        #expect(logged.map(\.chained.record.mediationID) == [first.id, first.id])
        #expect(logged.map(\.repeats) == [0, 1])
        #expect(try await charges(w) == 1)
        // The chain still holds: repeats are outside the hashed record.
        var previous = AccessChain.genesis
        for link in try await w.store.accessChain(afterPosition: 0, limit: 100) {
            #expect(AccessChain.hash(previous: previous, position: link.position, record: link.record) == link.hash)
            previous = link.hash
        }
    }

    @Test(arguments: TestStoreEngine.allCases) func aKeyIsForgottenAfterItsWindowAndPurged(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: base.path) }
        let w = try await base.makeWorld(engine)
        let m = mediator(w, windowMs: 60_000)
        let first = await m.mediate(keyed(w, "k-2"), requester: "CITY01")
        clock.add(59_999)
        #expect(await m.mediate(keyed(w, "k-2"), requester: "CITY01").repeated)
        // Other fields under the key: refused while it lives.
        #expect(await m.mediate(keyed(w, "k-2", resident: "10000000002"), requester: "CITY01").reply.failure
                == Mediator.keyReused)
        clock.add(2)
        // Past the window: a new mediation, charged again.
        let later = await m.mediate(keyed(w, "k-2"), requester: "CITY01")
        #expect(!later.repeated && later.id != first.id)
        #expect(try await charges(w) == 2)
        #expect(try await w.store.purgeMediationKeys(beforeMs: clock.now - 60_000) == 0)
        #expect(try await w.store.purgeMediationKeys(beforeMs: clock.now + 1) == 1)
    }

    /// Issue 17, item 5: the wall clock steps forward by two hours (past a one-minute window)
    /// while one second passes. The retry is the same mediation: relayed as a repeat, charged
    /// once. Judged on the wall clock, the key had expired and the retry ran and was charged twice.
    @Test(arguments: TestStoreEngine.allCases) func aStepForwardOfTheWallClockDoesNotForgetAKey(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: base.path) }
        let w = try await base.makeWorld(engine)
        let m = mediator(w, windowMs: 60_000)
        let first = await m.mediate(keyed(w, "k-step"), requester: "CITY01")
        #expect(first.outcome == .answered)
        clock.step(2 * 3_600_000)
        clock.add(1_000)
        let retry = await m.mediate(keyed(w, "k-step"), requester: "CITY01")
        #expect(retry.repeated && retry.id == first.id, "the retry after the step ran as a new mediation")
        #expect(try await charges(w) == 1)
        // Nor does the janitor's cutoff (the same clock) purge it.
        #expect(try await w.store.purgeMediationKeys(beforeMs: clock.keyClock.earliestMs() - 60_000) == 0)
        // Real time past the window: forgotten, as documented.
        clock.add(60_000)
        let later = await m.mediate(keyed(w, "k-step"), requester: "CITY01")
        #expect(!later.repeated && later.id != first.id)
    }

    /// A key bound while the wall clock is stepped back four hours, then the clock is put right:
    /// the binding was not dated four hours back, so the retry a second later is still the same
    /// mediation. Dated with the entry's wall-clock time, it looked four hours old and expired.
    @Test(arguments: TestStoreEngine.allCases) func aKeyBoundWhileTheClockIsBackOutlivesTheCorrection(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: base.path) }
        let w = try await base.makeWorld(engine)
        let m = mediator(w, windowMs: 60_000)
        clock.step(-4 * 3_600_000)
        let first = await m.mediate(keyed(w, "k-back"), requester: "CITY01")
        #expect(first.outcome == .answered)
        clock.step(4 * 3_600_000)
        clock.add(1_000)
        let retry = await m.mediate(keyed(w, "k-back"), requester: "CITY01")
        #expect(retry.repeated && retry.id == first.id, "the retry after the correction ran as a new mediation")
        #expect(try await charges(w) == 1)
    }

    /// The wall clock steps back four hours at 00:30 (Japan time) on 1 December, into
    /// November. A charge made after the step is dated with the newest charge's time, in
    /// December: the ledger had left November, so its statement does not change afterwards.
    /// Dated by the wall clock, the second charge went into November.
    @Test func aStepBackAcrossTheMonthDoesNotDateAChargeInTheMonthBefore() async throws {
        defer { try? FileManager.default.removeItem(atPath: base.path) }
        let w = try await base.makeWorld(.sqlite)
        let november = try #require(FeeStatements.period("2026-11")), december = try #require(FeeStatements.period("2026-12"))
        clock.step(december.fromMs + 1_800_000 - clock.now)
        let m = Mediator(store: w.store, links: w.links, whitelist: TestWhitelist("R1,BP1,CITY01,TAX01,income,,"),
                         providers: w.providers, tariff: DatedTariff(FlatTariff()),
                         settings: .init(defaultDeadlineMs: 500, maxDeadlineMs: 2_000, maxPayloadBytes: 16),
                         now: { [clock] in clock.now }, keyClock: clock.keyClock)
        #expect(await m.mediate(base.request(w.code("CITY01", "10000000001")), requester: "CITY01").outcome == .answered)
        clock.step(-4 * 3_600_000)
        #expect(clock.now < november.toMs)
        #expect(await m.mediate(base.request(w.code("CITY01", "10000000001")), requester: "CITY01").outcome == .answered)
        #expect(try await w.store.feeLines(payer: "CITY01", fromMs: november.fromMs, toMs: november.toMs).entries == 0)
        #expect(try await w.store.feeLines(payer: "CITY01", fromMs: december.fromMs, toMs: december.toMs).entries == 2)
    }
}
