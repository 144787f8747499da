import Foundation
import LinkcoreAudit
import LinkcorePostgresStore
import LinkcoreStore
import LinkcoreTestSupport
import Testing

/// The store interface's contract, checked the same way against each engine: SQLite (a temporary
/// file) and PostgreSQL (a new database on the real server the test process starts, see
/// `PostgresServer`). What a caller relies on: durable before return, idempotent replays, one
/// hash chain, one fee per (operation, reference), the outbox's order and acknowledgements.
@Suite struct StoreConformanceTests {
    static let now: Int64 = 1_800_000_000_000

    func org(_ code: String, role: OrgRole = .agency) -> Organisation {
        Organisation(code: code, name: "Name of \(code)", sector: .publicBody, role: role, createdAtMs: 0)
    }

    func record(_ i: Int, resident: UInt64 = 7, outcome: AccessOutcome = .answered) -> AccessRecord {
        AccessRecord(mediationID: "m\(i)", idCode: resident, atMs: Self.now + Int64(i), requester: "CITY01", provider: "TAX01",
                     bpID: "BP1", infoType: "income", outcome: outcome)
    }

    /// Recomputes the chain from genesis: positions 1...n without gaps, every hash over the previous.
    func chainIsIntact(_ store: any CoreStore) async throws -> UInt64 {
        var previous = AccessChain.genesis
        var expected: UInt64 = 1
        while true {
            let page = try await store.accessChain(afterPosition: expected - 1, limit: 97)
            if page.isEmpty { return expected - 1 }
            for entry in page {
                #expect(entry.position == expected)
                #expect(entry.hash == AccessChain.hash(previous: previous, position: entry.position, record: entry.record))
                previous = entry.hash
                expected += 1
            }
        }
    }

    @Test(arguments: TestStoreEngine.allCases)
    func organisationsAreAddedReadChangedAndNeverDuplicated(engine: TestStoreEngine) async throws {
        let t = try await TestStore.make(engine)
        let store = t.store
        try await store.addOrganisation(org("TAX01"))
        try await store.addOrganisation(org("CITY01"))
        await #expect(throws: StoreError.duplicate("organisation CITY01")) { try await store.addOrganisation(org("CITY01")) }
        #expect(try await store.organisations().map(\.code) == ["CITY01", "TAX01"])
        #expect(try await store.organisation("CITY01") == org("CITY01"))
        #expect(try await store.organisation("NOPE01") == nil)
        #expect(try await store.setSuspended("CITY01", true).suspended)
        #expect(try await store.setLicensedVerifier("CITY01", true).licensedVerifier)
        #expect(try await store.organisation("CITY01")?.suspended == true)
        await #expect(throws: StoreError.self) { try await store.setSuspended("NOPE01", true) }
        await #expect(throws: StoreError.self) { try await store.setLicensedVerifier("NOPE01", true) }
        #expect(try await store.rotateKey("TAX01") == 2)
        #expect(try await store.rotateKey("TAX01") == 3)
        await #expect(throws: StoreError.self) { try await store.rotateKey("NOPE01") }
        // Durable: another store on the same data sees it all.
        let again = try await t.reopen()
        #expect(try await again.organisation("TAX01")?.keyIndex == 3)
        if let pg = again as? PostgresCoreStore { await pg.close() }
        await t.close()
    }

    @Test(arguments: TestStoreEngine.allCases)
    func issuanceIsIdempotentPerMatchingNumberAndChargedOnce(engine: TestStoreEngine) async throws {
        let t = try await TestStore.make(engine)
        let store = t.store
        for code in ["CITY01", "TAX01"] { try await store.addOrganisation(org(code)) }
        let resident: [UInt8] = Array(repeating: 1, count: 32), other: [UInt8] = Array(repeating: 2, count: 32)
        let charge = FeeCharge(payer: "CITY01", operation: .linkIssuance, reference: "M1", amountYen: 5, tariffID: "T", atMs: Self.now)
        let first = try await store.issueLink(residentHash: resident, orgCode: "CITY01", matchingNumber: "M1", expiresAtMs: Self.now + 1000,
                                              nowMs: Self.now, newIDCode: { 42 }, charge: charge)
        #expect(first.created && first.issuance.link.idCode == 42 && first.issuance.link.keyIndex == 1)
        let replay = try await store.issueLink(residentHash: resident, orgCode: "CITY01", matchingNumber: "M1", expiresAtMs: Self.now + 1000,
                                               nowMs: Self.now, newIDCode: { 43 }, charge: charge)
        #expect(!replay.created && replay.issuance == first.issuance)
        // A new number for the same link: found, not created, not charged.
        let second = try await store.issueLink(residentHash: resident, orgCode: "CITY01", matchingNumber: "M2", expiresAtMs: Self.now + 1000,
                                               nowMs: Self.now, newIDCode: { 44 },
                                               charge: FeeCharge(payer: "CITY01", operation: .linkIssuance, reference: "M2", amountYen: 5,
                                                                 tariffID: "T", atMs: Self.now))
        #expect(!second.created && second.issuance.link == first.issuance.link)
        // The number replayed for another resident or organisation, or expired: refused.
        await #expect(throws: StoreError.matchingNumberRefused) {
            try await store.issueLink(residentHash: other, orgCode: "CITY01", matchingNumber: "M1", expiresAtMs: Self.now + 1000,
                                      nowMs: Self.now, newIDCode: { 45 }, charge: nil)
        }
        await #expect(throws: StoreError.matchingNumberRefused) {
            try await store.issueLink(residentHash: resident, orgCode: "TAX01", matchingNumber: "M1", expiresAtMs: Self.now + 1000,
                                      nowMs: Self.now, newIDCode: { 45 }, charge: nil)
        }
        await #expect(throws: StoreError.matchingNumberRefused) {
            try await store.issueLink(residentHash: resident, orgCode: "TAX01", matchingNumber: "M3", expiresAtMs: Self.now,
                                      nowMs: Self.now, newIDCode: { 45 }, charge: nil)
        }
        await #expect(throws: StoreError.notFound("organisation NOPE01")) {
            try await store.issueLink(residentHash: resident, orgCode: "NOPE01", matchingNumber: "M4", expiresAtMs: Self.now + 1000,
                                      nowMs: Self.now, newIDCode: { 45 }, charge: nil)
        }
        // The ID code is the resident's, whichever organisation links them.
        let tax = try await store.issueLink(residentHash: resident, orgCode: "TAX01", matchingNumber: "M5", expiresAtMs: Self.now + 1000,
                                            nowMs: Self.now, newIDCode: { 46 }, charge: nil)
        #expect(tax.created && tax.issuance.link.idCode == 42)
        #expect(try await store.idCode(residentHash: resident) == 42)
        #expect(try await store.feeLines(payer: "CITY01", fromMs: 0, toMs: .max).entries == 1)

        // Acknowledgement: only the organisation's own, once.
        #expect(try await store.unacknowledgedIssuances(orgCode: "CITY01", limit: 10).map(\.matchingNumber) == ["M1", "M2"])
        try await store.acknowledgeIssuance(matchingNumber: "M1", orgCode: "TAX01", nowMs: Self.now)
        try await store.acknowledgeIssuance(matchingNumber: "M2", orgCode: "CITY01", nowMs: Self.now + 5)
        #expect(try await store.unacknowledgedIssuances(orgCode: "CITY01", limit: 10).map(\.matchingNumber) == ["M1"])
        #expect(try await store.issuance(matchingNumber: "M2")?.acknowledgedAtMs == Self.now + 5)
        #expect(try await store.issuance(matchingNumber: "NONE") == nil)

        // Unlink ends the live link once; a replay of its number is then refused.
        #expect(try await store.liveLink(idCode: 42, orgCode: "CITY01")?.isLive == true)
        #expect(try await store.unlink(idCode: 42, orgCode: "CITY01", nowMs: Self.now + 9)?.unlinkedAtMs == Self.now + 9)
        #expect(try await store.unlink(idCode: 42, orgCode: "CITY01", nowMs: Self.now + 10) == nil)
        #expect(try await store.liveLink(idCode: 42, orgCode: "CITY01") == nil)
        #expect(try await store.liveLinks(idCode: 42).map(\.orgCode) == ["TAX01"])
        await #expect(throws: StoreError.matchingNumberRefused) {
            try await store.issueLink(residentHash: resident, orgCode: "CITY01", matchingNumber: "M1", expiresAtMs: Self.now + 1000,
                                      nowMs: Self.now, newIDCode: { 47 }, charge: nil)
        }
        await t.close()
    }

    @Test(arguments: TestStoreEngine.allCases)
    func theAccessLogIsOneChainWithCheckpoints(engine: TestStoreEngine) async throws {
        let t = try await TestStore.make(engine)
        let store = t.store
        #expect(try await store.accessHead() == nil)
        for i in 1...25 {
            let chained = try await store.appendAccess(record(i, resident: UInt64(i % 3)))
            #expect(chained.position == UInt64(i))
        }
        #expect(try await chainIsIntact(store) == 25)
        #expect(try await store.accessHead()?.position == 25)
        let mine = try await store.loggedAccess(idCode: 1, fromMs: Self.now + 5, toMs: Self.now + 20, afterPosition: 7, limit: 3)
        #expect(mine.map(\.chained.position) == [10, 13, 16])
        // Checkpoints: kept in order, replaced at the same position.
        for position: UInt64 in [10, 20] {
            try await store.addCheckpoint(AuditCheckpoint(position: position, hash: [UInt8](repeating: UInt8(position), count: 32),
                                                          atMs: Self.now, signature: [1, 2], certificate: [3]))
        }
        try await store.addCheckpoint(AuditCheckpoint(position: 20, hash: [9], atMs: Self.now + 1, signature: [4], certificate: [5]))
        #expect(try await store.checkpoints().map(\.position) == [10, 20])
        #expect(try await store.newestCheckpoint()?.hash == [9])
        #expect(try await store.checkpoints(fromPosition: 11).map(\.signature) == [[4]])
        await t.close()
    }

    /// Group commit: concurrent writers each get their own position, the chain stays whole, every
    /// acknowledged write is durable (read back by an independent client), and batches carry
    /// several writes; a write that fails inside a batch rolls back alone.
    @Test(arguments: TestStoreEngine.allCases)
    func concurrentWritesAreBatchedAndEachIsDurable(engine: TestStoreEngine) async throws {
        let t = try await TestStore.make(engine)
        let store = t.store
        try await store.addOrganisation(org("CITY01"))
        let writers = 200
        let positions = try await withThrowingTaskGroup(of: UInt64?.self) { group in
            for i in 1...writers {
                group.addTask {
                    if i % 10 == 0 {
                        // A failing write in the middle of the others.
                        do { try await store.addOrganisation(org("CITY01")); return 0 } catch { return nil }
                    }
                    return try await store.appendAccess(record(i)).position
                }
            }
            return try await group.reduce(into: [UInt64?]()) { $0.append($1) }
        }
        let appended = positions.compactMap { $0 }
        #expect(appended.count == writers - writers / 10)
        #expect(positions.filter { $0 == nil }.count == writers / 10)
        #expect(Set(appended) == Set(1...UInt64(appended.count)))
        #expect(try await chainIsIntact(store) == UInt64(appended.count))
        if let database = t.database {
            // psql, not the store: what was acknowledged is committed.
            #expect(try await database.psql("SELECT count(*) FROM access_log") == "\(appended.count)")
            #expect(try await database.psql("SELECT position FROM access_head") == "\(appended.count)")
            let counters = try #require(store as? PostgresCoreStore).counters
            #expect(counters.writes == UInt64(writers + 1))
            #expect(counters.commits < counters.writes, "concurrent writes share transactions")
        }
        await t.close()
    }

    @Test(arguments: TestStoreEngine.allCases)
    func mediationKeysBindRepeatAndRefuseReuse(engine: TestStoreEngine) async throws {
        let t = try await TestStore.make(engine)
        let store = t.store
        let key = MediationKey(requester: "CITY01", key: "k1", fingerprint: [1, 1], notBeforeMs: Self.now - 1000)
        let fee = FeeCharge(payer: "CITY01", operation: .mediation, reference: "m1", amountYen: 10, tariffID: "T", atMs: Self.now)
        // An unanswered first attempt binds the key; the answered retry appends and moves it.
        guard case let .appended(refused) = try await store.appendMediation(record(1, outcome: .timedOut), charge: nil, key: key) else {
            Issue.record("a first decision appends"); return
        }
        #expect(try await store.mediationKey(key)?.answered == false)
        guard case let .appended(answered) = try await store.appendMediation(record(2), charge: fee, key: key) else {
            Issue.record("an answer after an unanswered attempt appends"); return
        }
        #expect(answered.position == refused.position + 1)
        #expect(try await store.mediationKey(key) == MediationKeyBinding(fingerprint: [1, 1], mediationID: "m2", position: 2, answered: true))
        // An answered retry repeats; an unanswered one changes nothing; other fields: refused.
        #expect(try await store.appendMediation(record(3), charge: fee, key: key) == .repeated(mediationID: "m2", position: 2))
        #expect(try await store.appendMediation(record(4, outcome: .timedOut), charge: nil, key: key) == .unchanged(mediationID: "m2"))
        await #expect(throws: StoreError.idempotencyKeyReused) {
            try await store.appendMediation(record(5), charge: nil, key: MediationKey(requester: "CITY01", key: "k1", fingerprint: [2],
                                                                                      notBeforeMs: Self.now - 1000))
        }
        #expect(try await store.loggedAccess(idCode: 7, fromMs: 0, toMs: .max, afterPosition: 0, limit: 10).map(\.repeats) == [0, 1])
        #expect(try await store.feeLines(payer: "CITY01", fromMs: 0, toMs: .max).entries == 1)
        // Expired bindings are purged; the key is then free.
        #expect(try await store.purgeMediationKeys(beforeMs: Self.now + 100) == 1)
        #expect(try await store.mediationKey(key) == nil)
        #expect(try await chainIsIntact(store) == 2)
        await t.close()
    }

    @Test(arguments: TestStoreEngine.allCases)
    func theFeeLedgerChargesEachOperationOnce(engine: TestStoreEngine) async throws {
        let t = try await TestStore.make(engine)
        let store = t.store
        let charges = (0..<30).map { (i: Int) -> FeeCharge in
            let even = i % 2 == 0
            let payer = i % 3 == 0 ? "BANK01" : "CITY01"
            let operation: FeeCharge.Operation = even ? .mediation : .eventDelivery
            let amount: Int64 = even ? 10 : 3
            return FeeCharge(payer: payer, operation: operation, reference: "r\(i)", amountYen: amount, tariffID: "T\(i % 2)",
                             atMs: Self.now + Int64(i))
        }
        // Every charge sent twice, concurrently: one ledger row each.
        let inserted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for charge in charges + charges { group.addTask { try await store.charge(charge) } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(inserted == 30)
        let statement = try await store.feeLines(payer: "CITY01", fromMs: Self.now, toMs: Self.now + 30)
        #expect(statement.entries == 20)
        #expect(statement.lines == [
            FeeLineTotal(operation: .eventDelivery, tariffID: "T1", unitPriceYen: 3, count: 10, amountYen: 30),
            FeeLineTotal(operation: .mediation, tariffID: "T0", unitPriceYen: 10, count: 10, amountYen: 100),
        ])
        #expect(try await store.feeLines(payer: "CITY01", fromMs: Self.now + 30, toMs: .max).entries == 0)
        await t.close()
    }

    @Test(arguments: TestStoreEngine.allCases)
    func eventsAreQueuedOnceReleasedInOrderAndAcknowledgedOnce(engine: TestStoreEngine) async throws {
        let t = try await TestStore.make(engine)
        let store = t.store
        for code in ["CITY01", "TAX01"] { try await store.addOrganisation(org(code)) }
        let hash: [UInt8] = Array(repeating: 3, count: 32)
        _ = try await store.issueLink(residentHash: hash, orgCode: "TAX01", matchingNumber: "N1", expiresAtMs: Self.now + 1000,
                                      nowMs: Self.now, newIDCode: { 77 }, charge: nil)
        func entry(_ id: String, due: Int64, batch: Range<Int64>? = nil) -> OutboxEntry {
            OutboxEntry(eventID: id, orgCode: "TAX01", idCode: 77, kind: 1, occurredAtMs: Self.now, delivery: batch == nil ? .immediate : .dailyBatch,
                        dueAtMs: due, createdAtMs: Self.now, batchRange: batch)
        }
        let targets = try await store.fanoutTargets(reporter: "CITY01", reportID: "r1", residentHash: hash)
        #expect(targets.seen == nil && targets.idCode == 77 && targets.links.map(\.orgCode) == ["TAX01"])
        #expect(try await store.queueEvents(reporter: "CITY01", reportID: "r1", entries: [entry("e-b", due: Self.now + 10),
                                                                                          entry("e-a", due: Self.now + 10),
                                                                                          entry("e-c", due: Self.now + 5)],
                                            nowMs: Self.now) == (3, false))
        // The same report again: nothing queued, the first count returned.
        #expect(try await store.queueEvents(reporter: "CITY01", reportID: "r1", entries: [entry("e-x", due: Self.now)], nowMs: Self.now) == (3, true))
        #expect(try await store.changeReport(reporter: "CITY01", reportID: "r1") == 3)
        #expect(try await store.fanoutTargets(reporter: "CITY01", reportID: "r1", residentHash: hash).seen == 3)
        // A batch entry joins the receiver's waiting batch in its range.
        _ = try await store.queueEvents(reporter: "CITY01", reportID: "r2", entries: [entry("e-d", due: Self.now + 50, batch: Self.now..<Self.now + 100)],
                                        nowMs: Self.now)
        let due = try await store.pendingEvents(orgCode: "TAX01", dueBy: Self.now + 1000, after: nil, limit: 10)
        #expect(due.map(\.entry.eventID) == ["e-c", "e-a", "e-b", "e-d"])
        #expect(due.last?.entry.dueAtMs == Self.now + 10)
        #expect(due.first?.keyIndex == 1)
        #expect(try await store.pendingEvents(orgCode: "TAX01", dueBy: Self.now + 1000, after: due[1].position, limit: 10).map(\.entry.eventID)
                == ["e-b", "e-d"])
        #expect(try await store.pendingEvents(orgCode: "TAX01", dueBy: Self.now + 7, after: nil, limit: 10).map(\.entry.eventID) == ["e-c"])
        #expect(try await store.nextRelease(orgCode: "TAX01", after: Self.now + 5) == Self.now + 10)
        // Acknowledged once, charged once, only the organisation's own.
        let charge: @Sendable (String) -> FeeCharge = {
            FeeCharge(payer: "TAX01", operation: .eventDelivery, reference: $0, amountYen: 3, tariffID: "T", atMs: Self.now)
        }
        #expect(try await store.acknowledgeEvents(orgCode: "CITY01", eventIDs: ["e-a"], nowMs: Self.now, charge: charge) == 0)
        #expect(try await store.acknowledgeEvents(orgCode: "TAX01", eventIDs: ["e-a", "e-c", "nope"], nowMs: Self.now, charge: charge) == 2)
        #expect(try await store.acknowledgeEvents(orgCode: "TAX01", eventIDs: ["e-a"], nowMs: Self.now, charge: charge) == 0)
        #expect(try await store.feeLines(payer: "TAX01", fromMs: 0, toMs: .max).entries == 2)
        #expect(try await store.eventCounts() == EventCounts(queued: 4, delivered: 2))
        // An ended link: its events are no longer sent.
        _ = try await store.unlink(idCode: 77, orgCode: "TAX01", nowMs: Self.now)
        #expect(try await store.pendingEvents(orgCode: "TAX01", dueBy: Self.now + 1000, after: nil, limit: 10).isEmpty)
        await t.close()
    }

    @Test(arguments: TestStoreEngine.allCases)
    func noticesAreQueuedOnceWithTheirLogEntryAndDeliveredOnce(engine: TestStoreEngine) async throws {
        let t = try await TestStore.make(engine)
        let store = t.store
        try await store.addOrganisation(org("PORTAL", role: .portal))
        let hash: [UInt8] = Array(repeating: 4, count: 32)
        _ = try await store.issueLink(residentHash: hash, orgCode: "PORTAL", matchingNumber: "P1", expiresAtMs: Self.now + 1000,
                                      nowMs: Self.now, newIDCode: { 88 }, charge: nil)
        let notice = StoredNotice(noticeID: "n1", sender: "CITY01", idempotencyKey: "k", fingerprint: [5], portal: "PORTAL", idCode: 88,
                                  noticeType: "tax", title: "Title <b>", body: "Body", sentAtMs: Self.now)
        #expect(try await store.queueNotice(notice, access: record(1, resident: 88)) == (notice, true))
        var copy = notice
        copy.noticeID = "n2"
        #expect(try await store.queueNotice(copy, access: record(2, resident: 88)) == (notice, false))
        #expect(try await store.notice(sender: "CITY01", key: "k") == notice)
        #expect(try await chainIsIntact(store) == 1)
        let pending = try await store.pendingNotices(portal: "PORTAL", afterSeq: 0, limit: 10)
        #expect(pending.map(\.notice) == [notice])
        #expect(try await store.acknowledgeNotice(portal: "PORTAL", noticeID: "n1", nowMs: Self.now + 1))
        #expect(try await !store.acknowledgeNotice(portal: "PORTAL", noticeID: "n1", nowMs: Self.now + 2))
        #expect(try await store.notice(sender: "CITY01", key: "k")?.title == "")
        #expect(try await store.noticeCounts() == (1, 1))
        await t.close()
    }
}
