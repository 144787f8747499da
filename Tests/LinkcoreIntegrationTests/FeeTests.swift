import Foundation
import LinkcoreClient
import LinkcoreSQLite
import LinkcoreWire
import Synchronization
import Testing
import LinkcoreTestSupport

/// Beneficiary pays (受益者負担) with the shipped whitelist and fees modules and real processes:
/// a private connector is charged for its links, answered mediations and delivered events, in
/// the same transactions as those operations, and its statement from the real `linkctl`
/// reconciles exactly with the ledger in the database file.
@Suite(.serialized) struct FeeTests {
    static let whitelist = PolicyFixtures.privateIncomeWhitelist(ruleID: "K-1")
    /// Mediations, link issuance and event delivery are charged.
    static let tariff = PolicyFixtures.mediationAndLinkTariff + "\n\n" + """
        [[tariff]]
        id = "T-EVENT"
        operation = "event_delivery"
        payer = "@private"
        effective_from = "2020-01-01"
        amount_yen = 5
        """

    /// This month as statements name it (Japan time).
    static var thisMonth: String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 9 * 3600) ?? .gmt
        let parts = calendar.dateComponents([.year, .month], from: Date())
        return String(format: "%04d-%02d", parts.year ?? 0, parts.month ?? 0)
    }

    @Test(arguments: TestStoreEngine.allCases)
    func chargesAreWrittenWithTheirOperationsAndTheStatementReconciles(engine: TestStoreEngine) async throws {
        let dir = try TempDirectory()
        let policy = try PolicyFixtures.whitelistAndFees(whitelist: Self.whitelist, tariff: Self.tariff, in: dir.url)
        let net = try await MediationNetwork(requesters: ["BANK01"], providers: ["TAX01"], policy: policy, engine: engine)
        defer { net.stop() }
        let residents = (1...4).map { "5000000000\($0)" }
        try await net.link(residents: residents, to: ["BANK01", "TAX01"])
        try await net.link(residents: residents, to: ["BANK01"])  // the same matching numbers again: not charged twice
        try await net.startProvider("TAX01")

        let answered = try await net.ask(as: "BANK01", provider: "TAX01", residents: residents, count: 6, concurrency: 3, info: "income")
        #expect(answered.filter { $0.answer != nil }.count == 6)
        let refused = try await net.ask(as: "BANK01", provider: "TAX01", residents: residents, count: 2, info: "pension")
        #expect(refused.map(\.code) == [300, 300])  // not permitted: logged, not charged

        // A change event delivered to the bank and acknowledged by it.
        let events = Mutex(0)
        let bank = try await LinkcoreConnection.connect(
            to: .tcp(host: "127.0.0.1", port: net.daemon.port), tls: try net.daemon.pki.clientTLS("BANK01"),
            hello: LinkcoreConnection.defaultHello(software: "test", acceptsPushes: true),
            incoming: { request in
                guard case .changeEvent? = request.body else { return .success(.linkIssuedAck(LCLinkIssuedAck())) }
                events.withLock { $0 += 1 }
                return .success(.changeEventAck(LCChangeEventAck()))
            })
        defer { Task { await bank.close() } }
        let matcher = try await net.daemon.connect(as: "MATCHER")
        _ = try await matcher.request(.reportChange(.with {
            $0.residentCode = residents[0]; $0.kind = .moved; $0.reportID = "fee-test-1"
            $0.occurredAtMs = Int64(Date().timeIntervalSince1970 * 1000)
        }))
        // The ledger read behind the core's back (SQLite read-only, or psql on PostgreSQL).
        try await eventually("the delivered event was not charged") {
            try await net.rows("SELECT count(*) FROM fee_ledger WHERE operation = 'event_delivery'").first?.first == "1"
        }
        #expect(events.withLock { $0 } == 1)

        // The ledger holds exactly what was chargeable, each charge beside its operation.
        let rows = try await net.rows("SELECT payer, operation, amount_yen, reference FROM fee_ledger ORDER BY id")
        #expect(Set(rows.map { $0[0] }) == ["BANK01"])  // the public provider pays nothing
        let byOperation = Dictionary(grouping: rows, by: { $0[1] }).mapValues { $0.count }
        #expect(byOperation == ["link_issuance": 4, "mediation": 6, "event_delivery": 1])
        let answeredIDs = Set(answered.compactMap(\.mediationId))
        let charged = Set(rows.filter { $0[1] == "mediation" }.map { $0[3] })
        #expect(charged == answeredIDs)
        let ledgerTotal = rows.reduce(Int64(0)) { $0 + (Int64($1[2]) ?? 0) }
        #expect(ledgerTotal == 4 * 30 + 6 * 10 + 5)

        // The operator's statement, CSV and JSON, reconciles with the ledger.
        let (status, csv) = try await net.daemon.linkctl(["fees", "statement", "--org", "BANK01", "--period", Self.thisMonth])
        #expect(status == 0, "\(csv)")
        let lines = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(lines.first?.last == "amount_yen")
        let total = lines.last { $0.count > 3 && $0[3] == "total" }
        #expect(total?.last == "\(ledgerTotal)" && total?[6] == "\(rows.count)", "\(csv)")
        let lineSum = lines.dropFirst().filter { $0.count > 3 && $0[3] != "total" }.compactMap { Int64($0.last ?? "") }.reduce(0, +)
        #expect(lineSum == ledgerTotal)
        let (_, json) = try await net.daemon.linkctl(["fees", "statement", "--org", "BANK01", "--period", Self.thisMonth, "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect((object?["total_yen"] as? Int).map(Int64.init) == ledgerTotal)
        #expect(object?["ledger_entries"] as? Int == rows.count)
        let (_, publicCSV) = try await net.daemon.linkctl(["fees", "statement", "--org", "TAX01", "--period", Self.thisMonth])
        #expect(publicCSV.contains("TAX01,Org TAX01,\(Self.thisMonth),total,,,0,0"), "\(publicCSV)")
    }
}
