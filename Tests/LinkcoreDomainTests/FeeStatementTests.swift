import Foundation
import LinkcoreDomain
import LinkcoreStore
import LinkcoreTestSupport
import Testing

/// Statements summed from a real ledger: month boundaries in Japan time, replays not charged
/// twice, totals equal to the ledger.
@Suite struct FeeStatementTests {
    let path = NSTemporaryDirectory() + "fees-\(UUID().uuidString).sqlite"

    @Test func periodsAreCalendarMonthsInJapanTime() throws {
        let november = try #require(FeeStatements.period("2026-11"))
        // 2026-11-01T00:00+09:00 is 2026-10-31T15:00Z.
        #expect(november.fromMs == 1_793_458_800_000)
        #expect(november.toMs - november.fromMs == 30 * 86_400_000)
        #expect(FeeStatements.period("2026-12")?.toMs == FeeStatements.period("2027-01")?.fromMs)
        for bad in ["2026-13", "2026-1", "26-11", "2026/11", "", "2026-11-01"] { #expect(FeeStatements.period(bad) == nil) }
    }

    @Test(arguments: TestStoreEngine.allCases) func aStatementReconcilesWithTheLedgerOfItsMonth(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try await TestStore.make(engine).store
        let orgs = try await OrgDirectory(store: store)
        _ = await orgs.add(NewOrganisation(code: "BANK01", name: "Bank, Ltd.", sector: .privateSector, role: .privateConnector), nowMs: 0)
        let fees = FeeStatements(store: store, orgs: orgs)
        let (from, to) = try #require(FeeStatements.period("2026-11"))

        // A generated month: random operations and tariffs, plus charges just outside the month
        // and for another payer that must not appear, and replays that must not count twice.
        var generator = SystemRandomNumberGenerator()
        var expected: [String: (count: UInt64, amount: Int64)] = [:]
        for i in 0..<600 {
            let operation = FeeCharge.Operation.allCases.randomElement(using: &generator) ?? .mediation
            let price: Int64 = operation == .mediation ? [10, 12].randomElement(using: &generator) ?? 10 : 3
            let at = Int64.random(in: from..<to, using: &generator)
            let charge = FeeCharge(payer: "BANK01", operation: operation, reference: "r\(i)", amountYen: price,
                                   tariffID: "T-\(operation.rawValue)-\(price)", atMs: at)
            #expect(try await store.charge(charge))
            #expect(try await !store.charge(charge))  // the same operation replayed
            expected["\(operation.rawValue)|\(price)", default: (0, 0)].count += 1
            expected["\(operation.rawValue)|\(price)", default: (0, 0)].amount += price
        }
        try await store.charge(FeeCharge(payer: "BANK01", operation: .mediation, reference: "before", amountYen: 10, tariffID: "T", atMs: from - 1))
        try await store.charge(FeeCharge(payer: "BANK01", operation: .mediation, reference: "after", amountYen: 10, tariffID: "T", atMs: to))
        try await store.charge(FeeCharge(payer: "OTHER", operation: .mediation, reference: "other", amountYen: 10, tariffID: "T", atMs: from))

        let statement = try await fees.statement(orgCode: "BANK01", period: "2026-11").get()
        #expect(statement.orgName == "Bank, Ltd.")
        #expect(statement.ledgerEntries == 600)
        #expect(statement.totalYen == expected.values.reduce(0) { $0 + $1.amount })
        #expect(statement.totalYen == statement.lines.reduce(0) { $0 + $1.amountYen })
        for line in statement.lines {
            let want = expected["\(line.operation.rawValue)|\(line.unitPriceYen)"]
            #expect(want?.count == line.count && want?.amount == line.amountYen)
            #expect(line.amountYen == line.unitPriceYen * Int64(line.count))
        }
        #expect(statement.lines.count == expected.count)

        let unknown = await fees.statement(orgCode: "NOPE", period: "2026-11")
        #expect((try? unknown.get()) == nil)
        if case let .failure(error) = await fees.statement(orgCode: "BANK01", period: "November") {
            #expect(error.code == .invalidArgument)
        } else {
            Issue.record("a malformed period must be refused")
        }
    }
}
