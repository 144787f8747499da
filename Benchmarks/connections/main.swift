// Connections at scale (issue 17, item 4): a healthy requester keeps mediating (16 in flight on
// one connection, A -> core -> B, durable log entry each) while the core holds, in turn:
//   1. nothing else (the quiet baseline, measured in the same run);
//   2. COUNT mutual-TLS sessions from 100 organisations, measured while the core accepts them
//      (the time to accept them all) and then while it holds them idle (RSS per connection);
//   3. COUNT slowloris sockets: TCP connections from 100 loopback addresses that send a TLS
//      record header and then one byte a second, never finishing the handshake;
//   4. 100 peers that stop reading and send pings for as long as the core reads them;
//   5. nothing again (the run's noise).
// The hostile connections live in a child process (`--hostile`, Hostile.swift), so they share no
// thread or event loop with the healthy requester: the figures are the core's. Each phase prints
// the healthy p99 ÷ the quiet p99 (goal ≤ 2), the core's RSS and its CPU use over the phase.
// A measurement, not a test: nothing here asserts.
//
//   swift build -c release --product linkcored && swift build -c release --product connections-bench
//   .build/release/connections-bench [count=10000] [seconds=5]
//   BENCH_PERF_DIR=DIR: also `perf record` the core during each phase (DIR/PHASE.data).
// The bench raises its own RLIMIT_NOFILE (linkcored and the child inherit it); the shipped unit
// has LimitNOFILE=65536.
import BenchSupport
import Foundation
import LinkcoreClient
import LinkcoreTLS
import LinkcoreWire
import NIOCore

if CommandLine.arguments.dropFirst().first == "--hostile" {
    try await runHostile(Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}
let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let count = arguments.first ?? 10_000
let seconds = Double(arguments.dropFirst().first ?? 5)
let holders = (0..<100).map { String(format: "HOLD%03d", $0) }
let stuckPeers = 100
// The caps the loaded phases meet, written out (they are linkcored's defaults).
let awaitingHelloCap = 1_024
let outboundCap = 8 << 20

var limit = rlimit()
getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
limit.rlim_cur = max(limit.rlim_cur, min(limit.rlim_max, rlim_t(2 * count + 1024)))
setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)

// Every connection here comes from 127.0.0.1 (slowloris: 127.0.0.2-101), so the per-address cap
// is raised; the caps that matter for the phases (awaiting Hello, outbound bytes) are defaults.
let bench = try await BenchCore.start(
    name: "connections-bench", orgs: ["CITY01", "TAX01", "MATCHER"] + holders,
    files: ["whitelist.csv": "B1,BP-TAX,CITY01,TAX01,income,,\n"],
    extraConfig: """
    [mediation]
    whitelist = "whitelist.csv"
    [limits]
    max_connections = \(count + stuckPeers + 64)
    max_connections_per_org = \(count / holders.count + 8)
    max_connections_per_address = \(count + stuckPeers + 64)
    max_connections_awaiting_hello = \(awaitingHelloCap)
    max_outbound_bytes = \(outboundCap)
    """)
for (org, role) in [("CITY01", LCRole.agency), ("TAX01", .agency), ("MATCHER", .matcher)] { try await bench.addOrg(org, role: role) }
for org in holders { try await bench.addOrg(org) }
let core = bench.process.processIdentifier

// The healthy pair: 64 residents linked to A and B; B answers from a table.
let matcher = try await bench.connect("MATCHER")
var codes: [String: [String]] = [:]
for org in ["CITY01", "TAX01"] {
    let connection = try await bench.connect(org)
    for n in 0..<64 {
        codes[org, default: []].append(try await issueAndFetchLink(matcher: matcher, org: org, connection: connection,
                                                                   resident: String(format: "5%010d", n)))
    }
    await connection.close()
}
let la = codes["CITY01"] ?? []
let answers = Dictionary(uniqueKeysWithValues: (codes["TAX01"] ?? []).map { ($0, Data(repeating: 0x62, count: 256)) })
let provider = try await bench.connect("TAX01") { request in
    guard case let .provide(provide)? = request.body, let answer = answers[provide.linkCode] else {
        return .failure(WireError(.providerRefused, "no record", providerCode: "NO_RECORD"))
    }
    return .success(.provideResponse(.with { $0.answer = answer }))
}
let requester = try await bench.connect("CITY01")

func healthy(_ label: String) async -> LoadRun {
    let run = await runLoad(concurrency: 16, seconds: seconds) { i in
        let request = LCMediateRequest.with {
            $0.bpID = "BP-TAX"; $0.providerOrg = "TAX01"; $0.linkCode = la[i % la.count]
            $0.infoType = "income"; $0.query = Data("income 2025".utf8)
        }
        if case .mediateResponse? = try? await requester.request(.mediate(request)) { return true }
        return false
    }
    say(String(format: "%@: healthy requester %.0f/s, p50 %.0f µs, p99 %.0f µs, %d errors; core RSS %d MiB",
               label, run.rate, run.p50, run.p99, run.errors, residentBytes(pid: core) >> 20))
    return run
}

var rows: [String] = []
@MainActor func row(_ phase: String, _ run: LoadRun, quiet: LoadRun, rss: Int, cpu: Double, extra: String) {
    rows.append(phase.padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: " | %8.0f | %8.0f | %9.0f | %5.2f | %6d | %7d | %5.0f%% | %@", run.rate, run.p50, run.p99,
                       run.p99 / max(quiet.p99, 1), run.errors, rss >> 20, cpu, extra))
}

/// Runs a phase; returns its result and the core's CPU use over it (percent of one core). With
/// BENCH_PERF_DIR set, `perf record -e cpu-clock -g` samples the core during the phase into
/// DIR/NAME.data (this VM counts no hardware cycles; the cpu-clock software event works).
func profiled(_ name: String, _ phase: () async -> LoadRun) async -> (LoadRun, Double) {
    var perf: Process?
    if let dir = ProcessInfo.processInfo.environment["BENCH_PERF_DIR"] {
        // For the phase's length (`-- sleep`). A child inherits the spawning thread's blocked
        // signals (NIO's threads block them all) and perf would never see its SIGCHLD: python
        // unblocks them and execs perf.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
                       "/usr/bin/perf", "record", "-e", "cpu-clock", "-F", "499", "-g", "-p", "\(core)", "-o", "\(dir)/\(name).data",
                       "--", "sleep", "\(Int(seconds))"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        if (try? p.run()) != nil { perf = p }
    }
    let cpuStart = cpuSeconds(pid: core), wallStart = ContinuousClock.now
    let run = await phase()
    let cpu = (cpuSeconds(pid: core) - cpuStart) / (microseconds(ContinuousClock.now - wallStart) / 1e6) * 100
    perf?.waitUntilExit()
    return (run, cpu)
}

/// Polls the core's status until it holds at most `limit` connections (the bench's own three).
func waitForConnections(atMost limit: Int) async throws -> Int {
    var held = Int.max
    for _ in 0..<600 {
        held = Int((try? await bench.status())?.connections ?? UInt32.max)
        if held <= limit { break }
        try await Task.sleep(for: .milliseconds(100))
    }
    return held
}

// 1. Quiet.
let (quiet, quietCPU) = await profiled("quiet") { await healthy("quiet") }
row("quiet (baseline)", quiet, quiet: quiet, rss: residentBytes(pid: core), cpu: quietCPU, extra: "")

// 2. COUNT mutual-TLS sessions, in a child process: the healthy requester measured while the
// core accepts them (TLS handshakes), then while it holds them idle.
let rssBefore = residentBytes(pid: core)
say("a child process opens \(count) mutual-TLS sessions from \(holders.count) organisations, 64 handshakes at a time")
let sessionChild = try HostileChild(kind: .sessions, work: bench.work.path, port: bench.port, count: count)
let (accepting, acceptingCPU) = await profiled("accepting") { await healthy("while accepting \(count) sessions") }
let (opened, openSeconds) = try sessionChild.waitReady()
let held = try await bench.status().connections
let rssHeld = residentBytes(pid: core)
say(String(format: "%d sessions open in %.1f s (%.0f/s); the core holds %d connections", opened, openSeconds,
           Double(opened) / openSeconds, held))
row("while accepting \(count) mTLS", accepting, quiet: quiet, rss: rssHeld, cpu: acceptingCPU,
    extra: String(format: "%d sessions accepted in %.1f s (%.0f/s)", opened, openSeconds, Double(opened) / openSeconds))
let (withSessions, sessionsCPU) = await profiled("sessions") { await healthy("\(count) idle sessions") }
row("\(count) idle mTLS sessions", withSessions, quiet: quiet, rss: residentBytes(pid: core), cpu: sessionsCPU,
    extra: String(format: "%.1f KiB RSS per connection (%d held)", Double(rssHeld - rssBefore) / Double(max(held - 3, 1)) / 1024, held))
sessionChild.stop()
_ = try await waitForConnections(atMost: 3)

// 3. Slowloris: raw sockets, a TLS record header, then a byte a second.
say("a child process opens \(count) slowloris sockets from 100 loopback addresses")
let slowChild = try HostileChild(kind: .slowloris, work: bench.work.path, port: bench.port, count: count)
let (slowConnected, _) = try slowChild.waitReady()
let (withSlowloris, slowCPU) = await profiled("slowloris") { await healthy("\(count) slowloris") }
let slowReport = try slowChild.report()
row("\(count) slowloris", withSlowloris, quiet: quiet, rss: residentBytes(pid: core), cpu: slowCPU,
    extra: "\(slowConnected) connected; \(slowReport) still open at the end (max_connections_awaiting_hello \(awaitingHelloCap))")
slowChild.stop()

// 4. Peers that stop reading and keep sending pings for as long as the core reads them.
say("a child process: \(stuckPeers) peers stop reading and send pings")
let stuckChild = try HostileChild(kind: .stuck, work: bench.work.path, port: bench.port, count: stuckPeers)
_ = try stuckChild.waitReady()
let (withStuck, stuckCPU) = await profiled("stuck") { await healthy("\(stuckPeers) stuck peers") }
let stuckReport = try stuckChild.report()
let stuckHeld = (try? await bench.status()).map { "\($0.connections)" } ?? "? (no status)"
row("\(stuckPeers) peers not reading", withStuck, quiet: quiet, rss: residentBytes(pid: core), cpu: stuckCPU,
    extra: "the core holds \(stuckHeld) connections; stuck peers: \(stuckReport)")
stuckChild.stop()
_ = try await waitForConnections(atMost: 3)

// 5. Quiet again: the run's noise (and anything the hostile phases left behind).
let (quietAgain, quietAgainCPU) = await profiled("quiet-again") { await healthy("quiet again") }
row("quiet again", quietAgain, quiet: quiet, rss: residentBytes(pid: core), cpu: quietAgainCPU, extra: "")

print("linkcore connections at scale (\(count) connections, healthy requester 16 in flight, \(Int(seconds)) s per phase, \(ProcessInfo.processInfo.activeProcessorCount) cores)")
print("phase                          |  med/s   |  p50 µs  |  p99 µs   | p99 ÷ quiet | errors | RSS MiB | core CPU | notes")
for line in rows { print(line) }
await requester.close()
await provider.close()
await matcher.close()
await bench.stop()
