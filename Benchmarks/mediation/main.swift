// End-to-end mediations per second and p50/p99 on loopback: requester A -> linkcored (real
// child process: whitelist, LA -> ID code -> LB, durable hash-chained access-log entry) ->
// provider B -> back to A. Baseline in the same run: the same A asking the same B directly over
// mutual TLS, without the core (DirectProvider). A and B are in-process clients.
//
// Then the policy-module phase (issue 6; issue 13, item 5): the built-in table above is the
// whitelist module's own engine (`WhitelistTable`) run in process by the core, so the same daemon
// reloads first with the whitelist module alone deciding the same row through the module ABI
// (what the ABI costs, nothing else differing), then with the three shipped modules (whitelist,
// fees, events: liblinkcore-policy-*.so beside this binary). Each is a ratio against the
// in-process table in this run.
//
//   swift build -c release && swift run -c release mediation-bench [seconds=3] [residents=200]
import Foundation
import LinkcoreClient
import BenchSupport
import LinkcoreTLS
import LinkcoreWire
import NIOPosix
import Synchronization

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let seconds = Double(arguments.first ?? 3)
let residents = (0..<(arguments.dropFirst().first ?? 200)).map { String(format: "4%010d", $0) }
let levels = [1, 16, 256]
let bench = try await BenchCore.start(
    name: "mediation-bench", orgs: ["CITY01", "TAX01", "MATCHER"], files: ["whitelist.csv": "B1,BP-TAX,CITY01,TAX01,income,,\n"],
    extraConfig: """
    [mediation]
    whitelist = "whitelist.csv"
    """)
let bin = bench.bin, core = bench.process, admin = bench.admin, corePort = bench.port
func path(_ name: String) -> String { bench.path(name) }
func write(_ name: String, _ text: String) throws { try bench.write(name, text) }
func tls(_ org: String) throws -> TLSContext { try bench.tls(org) }
func connectCore(_ org: String, incoming: IncomingRequestHandler? = nil) async throws -> LinkcoreConnection {
    try await bench.connect(org, incoming: incoming)
}
for (org, role) in [("CITY01", LCRole.agency), ("TAX01", .agency), ("MATCHER", .matcher)] { try await bench.addOrg(org, role: role) }

// Links for every resident to A and B, issued as the matcher would.
say("issuing links for \(residents.count) residents to CITY01 and TAX01")
let matcher = try await connectCore("MATCHER")
var codes: [String: [String]] = [:]
for org in ["CITY01", "TAX01"] {
    let connection = try await connectCore(org)
    for resident in residents {
        codes[org, default: []].append(try await issueAndFetchLink(matcher: matcher, org: org, connection: connection, resident: resident))
    }
    await connection.close()
}
let la = codes["CITY01"] ?? [], lb = codes["TAX01"] ?? []
let payload = Data(repeating: 0x61, count: 256)  // B's answer: a 256-byte record

// Provider B on the core: answers each ProvideRequest from its table (by LB). Four connections.
let tableB = Dictionary(uniqueKeysWithValues: lb.map { ($0, payload) })
let providerConnections = try await (0..<4).asyncMap { _ in
    try await connectCore("TAX01") { request in
        guard case let .provide(provide)? = request.body, let answer = tableB[provide.linkCode] else {
            return .failure(WireError(.providerRefused, "no record", providerCode: "NO_RECORD"))
        }
        return .success(.provideResponse(.with { $0.answer = answer }))
    }
}
// The same B serving A directly (keyed by A's code there, as A has no LB).
let (directChannel, directPort) = try await DirectProvider.start(
    answers: Dictionary(uniqueKeysWithValues: la.map { ($0, payload) }),
    tls: try TLSContext.server(TLSConfiguration(certificateChainPath: path("server.pem"), privateKeyPath: path("server.key"),
                                                trustRootsPath: path("ca.pem"))),
    group: MultiThreadedEventLoopGroup.singleton)

/// CPU seconds (user + system) the core process has used: what each mediation costs the core,
/// whatever else the machine is doing.
func coreCPUSeconds() -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(core.processIdentifier)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return 0 }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    // After the command name: state is field 3, utime 14 and stime 15 (1-based, in clock ticks).
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// `concurrency` requesters, each with one mediation outstanding, for `seconds`.
func measure(_ label: String, concurrency: Int, connect: () async throws -> LinkcoreConnection) async throws -> LoadRun {
    let connections = try await (0..<max(1, concurrency / 64)).asyncMap { _ in try await connect() }
    defer { for c in connections { Task { await c.close() } } }
    let run = await runLoad(concurrency: concurrency, seconds: seconds) { i in
        let connection = connections[(i % concurrency) % connections.count]
        let request = LCMediateRequest.with {
            $0.bpID = "BP-TAX"; $0.providerOrg = "TAX01"; $0.linkCode = la[i % la.count]
            $0.infoType = "income"; $0.query = Data("income 2025".utf8)
        }
        if case .mediateResponse? = try? await connection.request(.mediate(request)) { return true }
        return false
    }
    say(String(format: "%@ with %d requesters: %.0f/s, p50 %.0f µs, p99 %.0f µs, %d errors", label, concurrency, run.rate, run.p50, run.p99, run.errors))
    return run
}

var lines: [String] = []
var builtinRates: [Double] = []
if let counter = AllocCounter.fromEnvironment() {
    // Allocation mode (run-alloc-counts.sh): the core phases only, the core's allocations per
    // mediation counted over each (the whole phase: every mediation that ended in it counts).
    print("requesters | mediations | allocs/med | reallocs/med | bytes/med")
    for concurrency in levels {
        let before = counter.read()
        let run = try await measure("core  ", concurrency: concurrency) { try await connectCore("CITY01") }
        let after = counter.read()
        let n = Double(max(run.count, 1))
        print(String(format: "%10d | %10d | %10.1f | %12.2f | %9.0f", concurrency, run.count, Double(after[0] &- before[0]) / n,
                     Double(after[2] &- before[2]) / n, Double(after[3] &- before[3]) / n))
    }
    await bench.stop()
    exit(0)
}
if let counter = EventCounter.fromEnvironment(seconds: seconds) {
    // Counting mode: the core phases only, each with perf attached (see EventCounts.swift).
    print("requesters | mediations/s | per mediation: " + counter.events.split(separator: ",").map { $0.split(separator: ":").last.map(String.init) ?? "" }.joined(separator: " | "))
    for concurrency in levels {
        let output = bench.path("perf-\(concurrency).csv")
        let perf = try counter.start(pid: core.processIdentifier, output: output)
        let run = try await measure("core  ", concurrency: concurrency) { try await connectCore("CITY01") }
        let counts = counter.perMediation(perf, output: output, rate: run.rate)
        print(String(format: "%10d | %12.0f | ", concurrency, run.rate) + counts.map { String(format: "%.1f", $0.value) }.joined(separator: " | "))
    }
    await bench.stop()
    exit(0)
}
for concurrency in levels {
    say("\(concurrency) concurrent requesters, \(Int(seconds)) s each: through the core, then direct")
    let cpuBefore = coreCPUSeconds()
    let viaCore = try await measure("core  ", concurrency: concurrency) { try await connectCore("CITY01") }
    let coreCPU = (coreCPUSeconds() - cpuBefore) / Double(max(viaCore.count, 1)) * 1e6
    builtinRates.append(viaCore.rate)
    let direct = try await measure("direct", concurrency: concurrency) {
        try await LinkcoreConnection.connect(to: .tcp(host: "127.0.0.1", port: directPort), tls: try tls("CITY01"))
    }
    lines.append(String(format: "%10d | %12.0f | %8.0f | %8.0f | %6d | %15.0f | %10.0f | %8.0f | %8.0f | %5.3f",
                        concurrency, viaCore.rate, viaCore.p50, viaCore.p99, viaCore.errors, coreCPU,
                        direct.rate, direct.p50, direct.p99, viaCore.rate / max(direct.rate, 1)))
}
// The same daemon, reloaded with policy modules instead of the in-process table.
try write("whitelist.toml", """
    [[rule]]
    id = "B1"
    bp_id = "BP-TAX"
    task = "bench: resident tax for CITY01"
    requester = "CITY01"
    provider = "TAX01"
    info_types = ["income"]
    valid_from = "2020-01-01"
    """)
let policyTables = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../etc/linkcore").standardized.path
var moduleLines: [String] = []
if FileManager.default.fileExists(atPath: bin.appendingPathComponent("liblinkcore-policy-whitelist.so").path) {
    let config = try String(contentsOfFile: path("linkcored.toml"), encoding: .utf8)
    let phases: [(label: String, kinds: [(String, String)])] = [
        ("whitelist module", [("whitelist", path("whitelist.toml"))]),
        ("three modules", [("whitelist", path("whitelist.toml")), ("fees", policyTables + "/fees.toml"), ("events", policyTables + "/events.toml")]),
    ]
    for phase in phases {
        try write("linkcored.toml", config + "\n" + phase.kinds.map { kind, table in
            """
            [[policy.module]]
            kind = "\(kind)"
            path = "\(bin.appendingPathComponent("liblinkcore-policy-\(kind).so").path)"
            config = "\(table)"
            """
        }.joined(separator: "\n"))
        guard case let .reloadResponse(reload)? = try await admin.request(.reload(LCReloadRequest())), reload.ok else {
            throw BenchError(description: "reload with the \(phase.label) failed")
        }
        for (index, concurrency) in levels.enumerated() {
            say("\(concurrency) concurrent requesters through the core with the \(phase.label)")
            let cpuBefore = coreCPUSeconds()
            let run = try await measure("modules", concurrency: concurrency) { try await connectCore("CITY01") }
            let cpu = (coreCPUSeconds() - cpuBefore) / Double(max(run.count, 1)) * 1e6
            moduleLines.append(String(format: "%@ | %10d | %12.0f | %8.0f | %8.0f | %6d | %15.0f | %12.0f | %5.3f",
                                      phase.label.padding(toLength: 16, withPad: " ", startingAt: 0), concurrency, run.rate, run.p50, run.p99, run.errors, cpu, builtinRates[index],
                                      run.rate / max(builtinRates[index], 1)))
        }
    }
} else {
    say("no policy modules beside \(bin.path): skipping the module phase")
}

if case let .status(after)? = try await admin.request(.statusRequest(LCStatusRequest())) {
    say("core status: \(after.mediationOutcomes.map { "\($0.outcome)=\($0.count)" }.joined(separator: " ")), mediation p99 \(after.mediationP99Us) µs")
}
print("linkcore mediation benchmark (\(residents.count) residents, \(Int(seconds)) s per run, durable access log, loopback mTLS, \(ProcessInfo.processInfo.activeProcessorCount) cores)")
print("requesters | via core  /s |  p50 µs  |  p99 µs  | errors | core CPU µs/med |  direct /s |  p50 µs  |  p99 µs  | ratio")
for line in lines { print(line) }
if !moduleLines.isEmpty {
    print("")
    print("through the module ABI vs the same table (WhitelistTable) called in process by the core above ([mediation] whitelist)")
    print("modules          | requesters | modules   /s |  p50 µs  |  p99 µs  | errors | core CPU µs/med | in-process /s | ratio")
    for line in moduleLines { print(line) }
}
for c in providerConnections { await c.close() }
await matcher.close()
await admin.close()
try? await directChannel.close().get()
await bench.stop()
