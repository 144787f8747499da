import LinkcoreAudit
import LinkcorePostgresStore
import LinkcoreStore
import LinkcoreTestSupport
import Testing

/// The batch's bulk statements on PostgreSQL (issue 16, item 1): when one statement carries a
/// whole lane and a row of it cannot be written (PostgreSQL refuses a NUL byte in text; SQLite
/// takes it, so this is not a conformance case), the lane falls back to one savepoint per write:
/// that write fails alone, its batch-mates are answered, the chain has no gap.
@Suite struct PostgresBulkTests {
    static let now: Int64 = 1_800_000_000_000

    @Test func aRowTheBulkStatementCannotTakeFailsAloneAndTheChainStaysWhole() async throws {
        let t = try await TestStore.make(.postgresql)
        let store = t.store
        let database = try #require(t.database)
        try await store.addOrganisation(Organisation(code: "CITY01", name: "City", sector: .publicBody, role: .agency, createdAtMs: 0))
        let writers = 120
        let results = await withTaskGroup(of: (Int, UInt64?).self) { group in
            for i in 0..<writers {
                group.addTask {
                    let id = i % 20 == 5 ? "bad\u{0}\(i)" : "m\(i)"
                    let record = AccessRecord(mediationID: id, idCode: 7, atMs: Self.now + Int64(i), requester: "CITY01", provider: "TAX01",
                                              bpID: "BP1", infoType: "income", outcome: .answered)
                    let fee = FeeCharge(payer: "CITY01", operation: .mediation, reference: id, amountYen: 10, tariffID: "T", atMs: Self.now)
                    return (i, try? await store.appendAccess(record, charge: fee).position)
                }
            }
            return await group.reduce(into: [Int: UInt64?]()) { $0[$1.0] = $1.1 }
        }
        let good = (0..<writers).filter { $0 % 20 != 5 }
        for i in 0..<writers {
            if i % 20 == 5 { #expect(results[i] == .some(nil), "m\(i) cannot be written") } else { #expect(results[i] != .some(nil), "m\(i)") }
        }
        let positions = good.compactMap { results[$0] ?? nil }
        #expect(Set(positions) == Set(1...UInt64(good.count)))
        var previous = AccessChain.genesis
        let chain = try await store.accessChain(afterPosition: 0, limit: 1000)
        #expect(chain.map(\.position) == Array(1...UInt64(good.count)))
        for entry in chain {
            #expect(entry.hash == AccessChain.hash(previous: previous, position: entry.position, record: entry.record))
            previous = entry.hash
        }
        #expect(try await database.psql("SELECT count(*) FROM fee_ledger") == "\(good.count)")
        #expect(try await database.psql("SELECT position FROM access_head") == "\(good.count)")
        await t.close()
    }
}
