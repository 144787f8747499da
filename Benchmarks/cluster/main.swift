// Mediations per second and p50/p99 with 16 and 256 requesters in four set-ups, in one run
// (issue 16, item 6):
//   SQLite  one node on the embedded default (the baseline)
//   PG 1    one node on PostgreSQL
//   PG 2    two nodes on PostgreSQL; requesters and the provider on both
//   PG 3x   three nodes on PostgreSQL; the requester on nodes 1-2, the provider on node 3 only:
//           every mediation is forwarded node to node (NodeProvide)
// Each set-up is real linkcored processes (release build beside this binary) on one PostgreSQL
// server (Debian's postgresql-15, started on a Unix socket by the tests' fixture, a fresh
// database per set-up) and real mutual TLS; requester A and provider B are in this process. The
// database's own limit is printed too: pg_test_fsync's 8 kB fdatasync rate on the same disk (one
// commit's flush). Nothing asserts on time.
//
//   swift build -c release --product linkcored && swift build -c release --product cluster-bench
//   .build/release/cluster-bench [seconds=5] [residents=200]
import BenchSupport
import Foundation
import LinkcoreClient
import LinkcoreTestSupport
import LinkcoreWire

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let seconds = Double(arguments.first ?? 5)
let residents = (0..<(arguments.dropFirst().first ?? 200)).map { String(format: "6%010d", $0) }
let levels = [16, 256]

struct Setup {
    let label: String
    let postgres: Bool
    let nodes: Int
    /// Nodes (indexes) the requester's connections and the provider's connections go to.
    let requesterOn: [Int], providerOn: [Int]
}
let setups = [
    Setup(label: "SQLite, 1 node", postgres: false, nodes: 1, requesterOn: [0], providerOn: [0]),
    Setup(label: "PostgreSQL, 1 node", postgres: true, nodes: 1, requesterOn: [0], providerOn: [0]),
    Setup(label: "PostgreSQL, 2 nodes", postgres: true, nodes: 2, requesterOn: [0, 1], providerOn: [0, 1]),
    Setup(label: "PostgreSQL, 3 nodes, A/B apart", postgres: true, nodes: 3, requesterOn: [0, 1], providerOn: [2]),
]
let nodeNames = ["n1", "n2", "n3"]

func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// The nodes of one set-up, started and ready, with links for every resident to A and B.
func startNodes(_ setup: Setup, index: Int) async throws -> (nodes: [BenchCore], database: PostgresTestDatabase?, la: [String], lb: [String]) {
    let database = setup.postgres ? try await PostgresServer.shared.database() : nil
    let ports = (0..<setup.nodes).map { _ in freePort() }
    func nodeConfig(_ n: Int) -> String {
        guard database != nil else { return "" }
        return """
            [store]
            engine = "postgresql"
            connection = "postgresql.conn"
            [node]
            name = "\(nodeNames[n])"
            listen = ["127.0.0.1:\(ports[n])"]
            certificate = "node-\(nodeNames[n]).pem"
            private_key = "node-\(nodeNames[n]).key"
            """
    }
    let common = """
        [mediation]
        whitelist = "whitelist.csv"
        """
    let first = try await BenchCore.start(
        name: "cluster-bench-\(index)", orgs: ["CITY01", "TAX01", "MATCHER"], nodes: Array(nodeNames.prefix(setup.nodes)),
        files: ["whitelist.csv": "B1,BP-TAX,CITY01,TAX01,income,,\n"],
        secrets: database.map { ["postgresql.conn": $0.url] } ?? [:], extraConfig: common + "\n" + nodeConfig(0))
    // Organisations first: every node loads the directory when it starts.
    for (org, role) in [("CITY01", LCRole.agency), ("TAX01", .agency), ("MATCHER", .matcher)] { try await first.addOrg(org, role: role) }
    var nodes = [first]
    for n in 1..<setup.nodes { nodes.append(try await first.startNode(nodeNames[n], extraConfig: common + "\n" + nodeConfig(n))) }

    say("\(setup.label): issuing links for \(residents.count) residents to CITY01 and TAX01")
    let matcher = try await first.connect("MATCHER")
    var codes: [String: [String]] = [:]
    for org in ["CITY01", "TAX01"] {
        let connection = try await first.connect(org)
        for resident in residents {
            codes[org, default: []].append(try await issueAndFetchLink(matcher: matcher, org: org, connection: connection, resident: resident))
        }
        await connection.close()
    }
    await matcher.close()
    return (nodes, database, codes["CITY01"] ?? [], codes["TAX01"] ?? [])
}

/// pg_test_fsync's 8 kB fdatasync writes per second in `directory`: one commit's WAL flush. Its
/// output goes to a file, read as it comes: once the fdatasync line of the first table is there,
/// the tool is killed and not waited for (on this VM its later O_DIRECT tests sat in
/// uninterruptible I/O for over ten minutes).
func fsyncFloor(in directory: String) async -> Double? {
    guard let bin = PostgresServer.binDirectory() else { return nil }
    let outputPath = directory + "/pg_test_fsync.log"
    guard FileManager.default.createFile(atPath: outputPath, contents: nil),
          let output = FileHandle(forWritingAtPath: outputPath) else { return nil }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: bin + "/pg_test_fsync")
    process.arguments = ["-s", "1", "-f", directory + "/pg_test_fsync.out"]
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    defer { kill(process.processIdentifier, SIGKILL) }
    for _ in 0..<300 {
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // The first "fdatasync" line is in "Compare file sync methods using one 8kB write".
        if let line = text.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("fdatasync") }),
           let number = line.split(separator: " ").compactMap({ Double($0) }).first {
            return number
        }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return nil
}

var rows: [String] = []
var baseline: [Int: Double] = [:]
for (index, setup) in setups.enumerated() {
    let (nodes, database, la, lb) = try await startNodes(setup, index: index)
    let table = Dictionary(uniqueKeysWithValues: lb.map { ($0, Data(repeating: 0x61, count: 256)) })
    var providers: [LinkcoreConnection] = []
    for i in 0..<4 {
        providers.append(try await nodes[setup.providerOn[i % setup.providerOn.count]].connect("TAX01") { request in
            guard case let .provide(provide)? = request.body, let answer = table[provide.linkCode] else {
                return .failure(WireError(.providerRefused, "no record", providerCode: "NO_RECORD"))
            }
            return .success(.provideResponse(.with { $0.answer = answer }))
        })
    }
    // Every requester-side node must see B's presence before the clock starts.
    for n in setup.requesterOn where setup.postgres && !setup.providerOn.contains(n) {
        for _ in 0..<500 {
            let status = try await nodes[n].status()
            if status.clusterNodes.contains(where: { $0.orgs.contains("TAX01") && $0.leaseLeftMs > 0 }) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
    for concurrency in levels {
        let connections = try await (0..<max(setup.requesterOn.count, concurrency / 64)).asyncMap { i in
            try await nodes[setup.requesterOn[i % setup.requesterOn.count]].connect("CITY01")
        }
        let run = await runLoad(concurrency: concurrency, seconds: seconds) { i in
            let request = LCMediateRequest.with {
                $0.bpID = "BP-TAX"; $0.providerOrg = "TAX01"; $0.linkCode = la[i % la.count]
                $0.infoType = "income"; $0.query = Data("income 2025".utf8)
            }
            if case .mediateResponse? = try? await connections[(i % concurrency) % connections.count].request(.mediate(request)) { return true }
            return false
        }
        for c in connections { await c.close() }
        if index == 0 { baseline[concurrency] = run.rate }
        say(String(format: "%@, %d requesters: %.0f/s, p50 %.0f µs, p99 %.0f µs, %d errors", setup.label, concurrency, run.rate, run.p50, run.p99, run.errors))
        rows.append(setup.label.padding(toLength: 31, withPad: " ", startingAt: 0) + String(format: " | %10d | %8.0f | %8.0f | %9.0f | %6d | %5.3f", concurrency, run.rate, run.p50, run.p99,
                           run.errors, run.rate / max(baseline[concurrency] ?? 1, 1)))
    }
    for p in providers { await p.close() }
    for node in nodes.reversed() { await node.stop() }
    await database?.drop()
}
let server = try await PostgresServer.shared.instance()
let floor = await fsyncFloor(in: server.directory)

print("linkcore on several nodes (\(residents.count) residents, \(Int(seconds)) s per run, durable access log, loopback mTLS, \(ProcessInfo.processInfo.activeProcessorCount) cores shared by every process)")
print("set-up                          | requesters |  med/s   |  p50 µs  |  p99 µs   | errors | ÷ SQLite")
for row in rows { print(row) }
if let floor {
    print(String(format: "PostgreSQL's floor on this disk: %.0f fdatasync/s (pg_test_fsync, 8 kB): one commit's flush; batches carry many mediations per flush", floor))
}
