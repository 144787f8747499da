import Foundation
import LinkcoreWire
import Testing
import LinkcoreTestSupport

/// Mediation decided by the shipped whitelist module instead of the built-in CSV table, with real
/// adapter processes: the module's table is what permits, a reload with a broken table keeps it.
@Suite(.serialized) struct PolicyMediationTests {
    static let table = """
        [[rule]]
        id = "M-1"
        bp_id = "BP-TAX"
        task = "test: resident tax for CITY01 only"
        requester = "CITY01"
        provider = "@tax"
        info_types = ["income"]
        valid_from = "2020-01-01"

        [classes]
        tax = ["TAX*"]
        """

    @Test func theWhitelistModuleDecidesMediations() async throws {
        let dir = try TempDirectory()
        let tablePath = dir.url.appendingPathComponent("whitelist.toml").path
        try Self.table.write(toFile: tablePath, atomically: true, encoding: .utf8)
        let policy = Products.policyModules([("whitelist", tablePath)])
        let net = try await MediationNetwork(requesters: ["CITY01", "CITY02"], providers: ["TAX01"], policy: policy)
        defer { net.stop() }
        let residents = ["20000000001", "20000000002"]
        try await net.link(residents: residents, to: ["CITY01", "CITY02", "TAX01"])
        try await net.startProvider("TAX01")

        let answered = try await net.ask(as: "CITY01", provider: "TAX01", residents: residents, count: 2)
        #expect(answered.map(\.answer) == residents.map { MediationNetwork.answer(for: $0) })
        // The built-in table (T1: anyone may ask TAX01 for income) would permit this; the module's does not.
        let refused = try await net.ask(as: "CITY02", provider: "TAX01", residents: residents).first
        #expect(refused?.code == 300, "\(String(describing: refused))")
        #expect(try await net.ask(as: "CITY01", provider: "TAX01", residents: residents, info: "pension").first?.code == 300)

        // A broken table on reload: refused, the running set keeps deciding.
        try "[[rule]]\nid = \"M-1\"\n".write(toFile: tablePath, atomically: true, encoding: .utf8)
        guard case let .reloadResponse(reload)? = try await net.daemon.admin(.reload(LCReloadRequest())) else {
            Issue.record("no reload response"); return
        }
        #expect(!reload.ok)
        #expect(reload.error.contains("whitelist.toml"), "\(reload.error)")
        let still = try await net.ask(as: "CITY01", provider: "TAX01", residents: residents)
        #expect(still.first?.answer == MediationNetwork.answer(for: residents[0]))
        #expect(try await net.daemon.status().policyStatus.hasPrefix("policy generation 1: whitelist whitelist 1.0.0"))
    }

    @Test func reloadsDuringContinuousMediationsFailNoRequest() async throws {
        let dir = try TempDirectory()
        let tablePath = dir.url.appendingPathComponent("whitelist.toml").path
        try Self.table.write(toFile: tablePath, atomically: true, encoding: .utf8)
        let policy = Products.policyModules([("whitelist", tablePath), ("fees", Products.sample("fees.toml"))])
        let net = try await MediationNetwork(requesters: ["CITY01"], providers: ["TAX01"], policy: policy)
        defer { net.stop() }
        let residents = (1...5).map { "2100000000\($0)" }
        try await net.link(residents: residents, to: ["CITY01", "TAX01"])
        try await net.startProvider("TAX01")

        // 800 mediations, 8 at a time, while the operator reloads new tables (SIGHUP and
        // `linkctl policy reload` in turn): every reload swaps a whole new set between requests.
        let traffic = Task { try await net.ask(as: "CITY01", provider: "TAX01", residents: residents, count: 800, concurrency: 8) }
        for round in 1...6 {
            try (Self.table + "\n[[rule]]\nid = \"EXTRA-\(round)\"\nbp_id = \"BP-X\"\ntask = \"reload \(round)\"\n"
                 + "requester = \"CITY01\"\nprovider = \"TAX01\"\ninfo_types = [\"x\"]\nvalid_from = \"2020-01-01\"\n")
                .write(toFile: tablePath, atomically: true, encoding: .utf8)
            if round % 2 == 0 {
                net.daemon.signal(SIGHUP)
            } else {
                let (status, output) = try await net.daemon.linkctl(["policy", "reload"])
                #expect(status == 0, "\(output)")
            }
            // The next table only once this one is in force: each reload swaps a set of its own.
            var policyStatus = ""
            try await eventually("reload \(round) did not take: \(policyStatus)") {
                policyStatus = try await net.daemon.status().policyStatus
                return policyStatus.hasPrefix("policy generation \(round + 1)")
            }
        }
        let outcomes = try await traffic.value
        #expect(outcomes.count == 800)
        #expect(outcomes.filter { $0.answer == nil }.isEmpty, "\(outcomes.filter { $0.answer == nil }.prefix(3))")
        let policyStatus = try await net.daemon.status().policyStatus
        #expect(policyStatus.hasPrefix("policy generation 7"), "not every reload took: \(policyStatus)")
    }

    /// Issue 12, finding 15: once a set was loaded, a reload whose config names no module swaps
    /// in an empty set. Before: that set fell back to the built-in CSV table, whose `*` row lets
    /// anyone ask TAX01 for income, with no fee module (free). Now: every mediation fails closed.
    @Test func anEmptiedPolicySetFailsClosed() async throws {
        let dir = try TempDirectory()
        let tablePath = dir.url.appendingPathComponent("whitelist.toml").path
        try Self.table.write(toFile: tablePath, atomically: true, encoding: .utf8)
        let policy = Products.policyModules([("whitelist", tablePath), ("fees", Products.sample("fees.toml"))])
        let net = try await MediationNetwork(requesters: ["CITY01", "CITY02"], providers: ["TAX01"], policy: policy)
        defer { net.stop() }
        let residents = ["22000000001"]
        try await net.link(residents: residents, to: ["CITY01", "CITY02", "TAX01"])
        try await net.startProvider("TAX01")
        let refused = try await net.ask(as: "CITY02", provider: "TAX01", residents: residents).first
        #expect(refused?.code == 300, "\(String(describing: refused))")

        // The operator removes every module and reloads.
        let emptied = DaemonProcess.config(temp: net.dir, pki: net.daemon.pki, extra: [
            "mediation": "whitelist = \"\(net.whitelistPath)\"\nmax_deadline_ms = 10000\ndefault_deadline_ms = 2000",
        ])
        try emptied.write(toFile: net.daemon.configPath, atomically: true, encoding: .utf8)
        guard case let .reloadResponse(reload)? = try await net.daemon.admin(.reload(LCReloadRequest())) else {
            Issue.record("no reload response"); return
        }
        #expect(reload.ok, "\(reload.error)")
        for requester in ["CITY02", "CITY01"] {
            let outcome = try await net.ask(as: requester, provider: "TAX01", residents: residents).first
            #expect(outcome?.answer == nil && outcome?.code == Int(LCErrorCode.policyFailure.rawValue), "\(String(describing: outcome))")
        }
    }
}
