import Foundation
import LinkcoreClient
import LinkcoreSQLite
import LinkcoreWire
import LinkcoreTestSupport

/// A real core with organisations, links issued for a few residents, and real
/// `linkcore-adapter` processes: `provide` for providers, `ask` for requesters.
final class MediationNetwork: @unchecked Sendable {
    let daemon: DaemonProcess
    /// Link codes by organisation, then resident code.
    private(set) var codes: [String: [String: String]] = [:]
    private var providers: [ChildProcess] = []

    static let whitelist = """
        rule_id,bp_id,requester,provider,info_types,valid_from,valid_to
        T1,BP-TAX,*,TAX01,income,2020-01-01,
        T2,BP-TAX,CITY01,SLOW01,income,,
        T3,BP-TAX,CITY01,OFFLINE01,income,,
        T4,BP-TAX,CITY01,NOPE01,income,,
        T5,BP-TAX,CITY01,SLEEPY01,income,,
        """

    /// `requesters` and `providers` are agencies; PORTAL and MATCHER are always there.
    /// `mediation`: more lines for the `[mediation]` table; `pki`: the PKI to use (e.g. one
    /// whose certificates start in the past); `postgres`: this database (a test's own server or
    /// servers) rather than one on the shared server when `engine` is PostgreSQL.
    init(requesters: [String], providers: [String], maxDeadlineMs: Int = 10_000, limits: String? = nil,
         audit: String? = nil, policy: String? = nil, extraConfig: [String: String] = [:],
         environment: [String: String] = [:], engine: TestStoreEngine = .sqlite, postgres: PostgresTestDatabase? = nil,
         mediation: String = "", pki: TestPKI? = nil,
         beforeStart: (DaemonProcess) throws -> Void = { _ in }) async throws {
        let temp = try TempDirectory()
        var database = postgres
        if database == nil, engine == .postgresql { database = try await PostgresServer.shared.database() }
        let whitelist = temp.url.appendingPathComponent("whitelist.csv").path
        try Self.whitelist.write(toFile: whitelist, atomically: true, encoding: .utf8)
        daemon = try DaemonProcess(extraConfig: [
            "mediation": "whitelist = \"\(whitelist)\"\nmax_deadline_ms = \(maxDeadlineMs)\ndefault_deadline_ms = 2000"
                + (mediation.isEmpty ? "" : "\n" + mediation),
            "log": "level = \"info\"",
        ].merging(limits.map { ["limits": $0] } ?? [:]) { a, _ in a }
         .merging(audit.map { ["audit": $0] } ?? [:]) { a, _ in a }
         .merging(policy.map { ["policy": $0] } ?? [:]) { a, _ in a }
         .merging(extraConfig) { a, _ in a }, environment: environment, postgres: database, sharedPKI: pki)
        extraTemp = temp
        whitelistPath = whitelist
        try daemon.addOrg("MATCHER", role: .matcher)
        try daemon.addOrg("PORTAL", role: .portal)
        for org in requesters + providers {
            // BANK* play private-sector connectors; everyone else is a public agency.
            if org.hasPrefix("BANK") {
                try daemon.addOrg(org, role: .privateConnector, sector: .private)
            } else {
                try daemon.addOrg(org)
            }
        }
        // E.g. a small filesystem mounted on the state directory (MachineFaultTests).
        try beforeStart(daemon)
        try await daemon.start()
    }
    private let extraTemp: TempDirectory
    let whitelistPath: String

    var dir: URL { daemon.temp.url }
    var coreAddress: String { "127.0.0.1:\(daemon.port)" }

    /// Issues links for each resident to each organisation (see `DaemonProcess.issueLinks`).
    func link(residents: [String], to orgs: [String]) async throws {
        codes.merge(try await daemon.issueLinks(residents: residents, to: orgs)) { old, new in old.merging(new) { _, n in n } }
    }

    func code(_ org: String, _ resident: String) -> String { codes[org]?[resident] ?? "" }

    static func answer(for resident: String) -> String { "income of \(resident)" }

    private func adapterArguments(_ command: String, as org: String) -> [String] {
        [command, "--core", coreAddress, "--certificate", daemon.pki.path("\(org).pem"), "--private-key", daemon.pki.path("\(org).key"),
         "--ca-bundle", daemon.pki.path("ca.pem")]
    }

    /// Starts `linkcore-adapter provide` for `org`, answering from its table, and waits until it is connected.
    @discardableResult
    /// `answers` replaces a resident's answer; `only`, when given, keeps only those residents in the table.
    func startProvider(_ org: String, options: [String] = [], answers: [String: String] = [:], only: Set<String>? = nil) async throws -> ChildProcess {
        let table = dir.appendingPathComponent("\(org).tsv").path
        let lines = (codes[org] ?? [:]).filter { only?.contains($0.key) ?? true }.map { "\($0.value)\t\(answers[$0.key] ?? Self.answer(for: $0.key))" }
        try (lines.joined(separator: "\n") + "\n").write(toFile: table, atomically: true, encoding: .utf8)
        // A log per process: "ready" from an earlier provider must not count for this one.
        let log = dir.appendingPathComponent("provide-\(org)-\(UUID().uuidString.prefix(8)).log").path
        let process = ChildProcess(executable: Products.path("linkcore-adapter"),
                                   arguments: adapterArguments("provide", as: org) + ["--table", table] + options,
                                   environment: ProcessInfo.processInfo.environment, outputPath: log, serviceDirectory: dir.path)
        try process.run()
        providers.append(process)
        try await eventually(poll: .milliseconds(10), "provider \(org) did not connect") {
            if ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("ready") { return true }
            guard process.isRunning else { throw TestFailure("provider \(org) exited: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")") }
            return false
        }
        return process
    }

    struct Outcome: Decodable {
        var i: Int
        var linkCode: String
        var outcome: String
        var answer: String?
        var mediationId: String?
        var code: Int?
        var providerCode: String?
        var latencyUs: Int
    }

    /// Runs `linkcore-adapter ask` as `org` to the end; returns its outcomes, in request order.
    func ask(as org: String, provider: String, residents: [String], count: Int = 1, concurrency: Int = 1,
             info: String = "income", deadlineMs: Int = 0, codes explicit: [String]? = nil, bp: String = "BP-TAX") async throws -> [Outcome] {
        let tag = UUID().uuidString.prefix(8)
        let codesFile = dir.appendingPathComponent("ask-\(tag).codes").path
        let linkCodes = explicit ?? residents.map { code(org, $0) }
        try (linkCodes.joined(separator: "\n") + "\n").write(toFile: codesFile, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("ask-\(tag).out").path
        let process = ChildProcess(executable: Products.path("linkcore-adapter"), arguments: adapterArguments("ask", as: org) + [
            "--bp", bp, "--provider", provider, "--info", info, "--codes", codesFile,
            "--count", "\(count)", "--concurrency", "\(concurrency)", "--deadline-ms", "\(deadlineMs)",
        ], environment: ProcessInfo.processInfo.environment, outputPath: out, serviceDirectory: dir.path)
        try process.run()
        let status = try await process.exitStatus(timeout: .seconds(300))
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        guard status == 0 else { throw TestFailure("ask failed (\(status)):\n\(text)") }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try text.split(separator: "\n").filter { !$0.contains("\"summary\"") }
            .map { try decoder.decode(Outcome.self, from: Data($0.utf8)) }.sorted { $0.i < $1.i }
    }

    /// The core's database file, read-only.
    func database() throws -> SQLiteDatabase {
        try SQLiteDatabase(path: dir.appendingPathComponent("state/linkcore.sqlite").path, readOnly: true)
    }

    /// The access log as the daemon wrote it, read behind the core's back: its SQLite file
    /// (read-only) or psql on its PostgreSQL database.
    func accessLog() async throws -> [(mediationID: String, requester: String, provider: String, outcome: Int)] {
        try await rows("SELECT mediation_id, requester, provider, outcome FROM access_log ORDER BY position").map {
            ($0[0], $0[1], $0[2], Int($0[3]) ?? 0)
        }
    }

    /// Rows of a query on the core's database, every column as text, by an independent client
    /// (SQLite read-only, or psql): for the tests' checks on either engine.
    func rows(_ sql: String) async throws -> [[String]] {
        if let postgres = daemon.postgres {
            let output = try await postgres.psql(sql)
            return output.isEmpty ? [] : output.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
        }
        let db = try database()
        return try db.query(sql).map { row in
            row.values.indices.map { row.string($0) ?? row.int($0).map { String($0) } ?? "" }
        }
    }

    /// Waits until the core lists exactly `count` connections of `org` (after a provider left or came).
    func waitForPeers(_ org: String, count: Int) async throws {
        try await eventually(poll: .milliseconds(10), "\(org) does not have \(count) connections") {
            try await daemon.status().peers.filter({ $0.orgCode == org }).count == count
        }
    }

    func stop() {
        for p in providers { p.signal(SIGKILL) }
    }

    deinit { stop() }
}
