import Foundation
import LinkcoreClient
import LinkcorePKI
import LinkcoreTestSupport
import LinkcoreWire

/// Several real linkcored nodes on one PostgreSQL database (issue 16): one PKI (the first node's
/// test CA, which also issues each node's `urn:linkcore:node:<name>` certificate), one master
/// secret, one database, `[node]` on each with a free loopback port; real `linkcore-adapter`
/// processes connected to the node a test chooses.
final class ClusterNetwork: @unchecked Sendable {
    let database: PostgresTestDatabase
    private(set) var nodes: [DaemonProcess] = []
    let nodePorts: [Int]
    private var adapters: [String: ChildProcess] = [:]
    private(set) var codes: [String: [String: String]] = [:]
    private let temp: TempDirectory

    static let whitelist = """
        rule_id,bp_id,requester,provider,info_types,valid_from,valid_to
        T1,BP-TAX,*,TAX01,income,2020-01-01,
        """

    var pki: TestPKI { nodes[0].pki }
    /// Each node's address for peers, in node order.
    var peerAddresses: [CoreAddress] { nodes.map { CoreAddress(host: "127.0.0.1", port: $0.port) } }
    static func name(_ index: Int) -> String { "n\(index + 1)" }

    /// Starts `count` nodes; the organisations are registered through the first before the
    /// others start (each node loads the directory at start). `privateOrgs`: registered as
    /// private-sector connectors (the fee tariffs' `@private`). `extraConfig`: more config tables
    /// for every node (e.g. "policy"), as DaemonProcess takes them.
    init(count: Int = 2, orgs: [String], privateOrgs: Set<String> = [], extraConfig: [String: String] = [:]) async throws {
        temp = try TempDirectory()
        database = try await PostgresServer.shared.database()
        nodePorts = try (0..<count).map { _ in try freeLoopbackPort() }
        let whitelist = temp.url.appendingPathComponent("whitelist.csv").path
        try Self.whitelist.write(toFile: whitelist, atomically: true, encoding: .utf8)
        for index in 0..<count {
            let first = nodes.first
            // The first node's PKI directory is <its temp>/pki, relative to its config file.
            let certificate = first.map { $0.pki.path("node-\(Self.name(index))") } ?? "pki/node-\(Self.name(index))"
            var config = [
                "mediation": "whitelist = \"\(whitelist)\"\nmax_deadline_ms = 10000\ndefault_deadline_ms = 3000",
                "events": "delivery_window_ms = 0\nsweep_interval_ms = 200",
                "log": "level = \"debug\"",
                "audit": "checkpoint_interval_ms = 200",
                "node": """
                    name = "\(Self.name(index))"
                    listen = ["127.0.0.1:\(nodePorts[index])"]
                    certificate = "\(certificate).pem"
                    private_key = "\(certificate).key"
                    heartbeat_ms = 200
                    lease_ms = 3000
                    """,
            ]
            config.merge(extraConfig) { _, extra in extra }
            let node = try DaemonProcess(extraConfig: config, postgres: database, sharing: first)
            if first == nil {
                for i in 0..<count { try Self.issueNode(Self.name(i), in: node.pki) }
                try node.addOrg("MATCHER", role: .matcher)
                try node.addOrg("PORTAL", role: .portal)
                for org in orgs {
                    let isPrivate = privateOrgs.contains(org)
                    try node.addOrg(org, role: isPrivate ? .privateConnector : .agency, sector: isPrivate ? .private : .public)
                }
            }
            try await node.start()
            nodes.append(node)
        }
    }

    /// A node certificate for `name` in `pki`, as `linkctl pki issue-node` makes it.
    static func issueNode(_ name: String, in pki: TestPKI) throws {
        try pki.save(try pki.ca.issueNode(name: name, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validDays: 30), as: "node-\(name)")
    }

    func link(residents: [String], to orgs: [String]) async throws {
        codes.merge(try await nodes[0].issueLinks(residents: residents, to: orgs)) { old, new in old.merging(new) { _, n in n } }
    }

    static func answer(for resident: String) -> String { "income of \(resident)" }

    private func adapterArguments(_ command: String, as org: String, node: Int) -> [String] {
        [command, "--core", "127.0.0.1:\(nodes[node].port)", "--certificate", pki.path("\(org).pem"),
         "--private-key", pki.path("\(org).key"), "--ca-bundle", pki.path("ca.pem")]
    }

    /// `linkcore-adapter provide` for `org` on node `node`, answering from its links; waits until connected.
    func startProvider(_ org: String, on node: Int) async throws {
        let table = temp.url.appendingPathComponent("\(org).tsv").path
        let lines = (codes[org] ?? [:]).map { "\($0.value)\t\(Self.answer(for: $0.key))" }
        try (lines.joined(separator: "\n") + "\n").write(toFile: table, atomically: true, encoding: .utf8)
        let log = temp.url.appendingPathComponent("provide-\(org)-\(UUID().uuidString.prefix(8)).log").path
        let process = ChildProcess(executable: Products.path("linkcore-adapter"),
                                   arguments: adapterArguments("provide", as: org, node: node) + ["--table", table],
                                   environment: ProcessInfo.processInfo.environment, outputPath: log, serviceDirectory: temp.url.path)
        try process.run()
        adapters[org] = process
        try await eventually(poll: .milliseconds(20), "provider \(org) did not connect") {
            if ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("ready") { return true }
            guard process.isRunning else { throw TestFailure("provider \(org) exited: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")") }
            return false
        }
    }

    func killProvider(_ org: String) { adapters.removeValue(forKey: org)?.signal(SIGKILL) }

    /// Runs `linkcore-adapter ask` as `org` through node `node`; its outcomes in request order.
    func ask(as org: String, on node: Int, provider: String, residents: [String]) async throws -> [MediationNetwork.Outcome] {
        let tag = UUID().uuidString.prefix(8)
        let codesFile = temp.url.appendingPathComponent("ask-\(tag).codes").path
        try (residents.map { codes[org]?[$0] ?? "" }.joined(separator: "\n") + "\n").write(toFile: codesFile, atomically: true, encoding: .utf8)
        let out = temp.url.appendingPathComponent("ask-\(tag).out").path
        let process = ChildProcess(executable: Products.path("linkcore-adapter"), arguments: adapterArguments("ask", as: org, node: node) + [
            "--bp", "BP-TAX", "--provider", provider, "--info", "income", "--codes", codesFile,
            "--count", "\(residents.count)", "--concurrency", "1", "--deadline-ms", "0",
        ], environment: ProcessInfo.processInfo.environment, outputPath: out, serviceDirectory: temp.url.path)
        try process.run()
        let status = try await process.exitStatus(timeout: .seconds(300))
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        guard status == 0 else { throw TestFailure("ask failed (\(status)):\n\(text)") }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try text.split(separator: "\n").filter { !$0.contains("\"summary\"") }
            .map { try decoder.decode(MediationNetwork.Outcome.self, from: Data($0.utf8)) }.sorted { $0.i < $1.i }
    }

    /// Waits until node `seenBy`'s `linkctl status` lists `org` as a peer of node `holder`.
    func waitForPresence(_ org: String, on holder: String, seenBy: Int) async throws {
        try await eventually(poll: .milliseconds(50), "node \(Self.name(seenBy)) does not see \(org) on \(holder)") {
            try await nodes[seenBy].status().clusterNodes.contains { $0.name == holder && $0.orgs.contains(org) && $0.leaseLeftMs > 0 }
        }
    }

    /// psql's rows, every column as text.
    func rows(_ sql: String) async throws -> [[String]] {
        let output = try await database.psql(sql)
        return output.isEmpty ? [] : output.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
    }

    func stop() {
        for process in adapters.values { process.signal(SIGKILL) }
        adapters.removeAll()
    }

    deinit { stop() }
}
