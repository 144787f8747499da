// Connections at scale (issue 17, item 4): a healthy requester keeps mediating (16 in flight on
// one connection, A -> core -> B, durable log entry each) while the core holds, in turn:
//   1. nothing else (the quiet baseline, measured in the same run);
//   2. COUNT idle mutual-TLS sessions (Hello done), from 100 organisations: the time to accept
//      them all, the core's RSS per connection;
//   3. COUNT slowloris sockets: TCP connections from 100 loopback addresses that send a TLS
//      record header and then one byte a second, never finishing the handshake;
//   4. 100 peers that stop reading and keep sending pings.
// Each loaded phase prints the healthy requester's p99 ÷ the quiet p99 (goal ≤ 2) and the core's
// RSS against what its limits allow. A measurement, not a test: nothing here asserts.
//
//   swift build -c release --product linkcored && swift build -c release --product connections-bench
//   .build/release/connections-bench [count=10000] [seconds=5]
// The bench raises its own RLIMIT_NOFILE (linkcored, its child, inherits it); the shipped unit
// has LimitNOFILE=65536.
import BenchSupport
import Foundation
import LinkcoreClient
import LinkcoreTLS
import LinkcoreWire
import NIOCore

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
@MainActor func row(_ phase: String, _ run: LoadRun, quiet: LoadRun, rss: Int, extra: String) {
    rows.append(phase.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: " | %8.0f | %8.0f | %9.0f | %5.2f | %6d | %7d | %@", run.rate, run.p50, run.p99,
                       run.p99 / max(quiet.p99, 1), run.errors, rss >> 20, extra))
}

// 1. Quiet.
let rssQuiet = residentBytes(pid: core)
let quiet = await healthy("quiet")
row("quiet (baseline)", quiet, quiet: quiet, rss: residentBytes(pid: core), extra: "")

// 2. COUNT idle mutual-TLS sessions.
let contexts = try holders.map { try bench.tls($0) }
say("opening \(count) mutual-TLS sessions from \(holders.count) organisations, 64 at a time")
let openStart = ContinuousClock.now
let sessions = try await withThrowingTaskGroup(of: LinkcoreConnection.self) { group in
    var opened: [LinkcoreConnection] = []
    opened.reserveCapacity(count)
    for i in 0..<count {
        if i >= 64, let connection = try await group.next() { opened.append(connection) }
        group.addTask {
            try await LinkcoreConnection.connect(to: .tcp(host: "127.0.0.1", port: bench.port), tls: contexts[i % contexts.count],
                                                 hello: LinkcoreConnection.defaultHello(software: "connections-bench"), timeout: .seconds(60))
        }
    }
    for try await connection in group { opened.append(connection) }
    return opened
}
let openSeconds = microseconds(ContinuousClock.now - openStart) / 1e6
let held = try await bench.status().connections
let rssHeld = residentBytes(pid: core)
say(String(format: "%d sessions open in %.1f s (%.0f/s); the core holds %d connections", sessions.count, openSeconds,
           Double(sessions.count) / openSeconds, held))
let withSessions = await healthy("\(count) idle sessions")
row("\(count) idle mTLS sessions", withSessions, quiet: quiet, rss: residentBytes(pid: core),
    extra: String(format: "accepted in %.1f s; %.1f KiB RSS per connection", openSeconds, Double(rssHeld - rssQuiet) / Double(max(held, 1)) / 1024))
for connection in sessions { await connection.close() }

// 3. Slowloris: raw sockets, a TLS record header, then a byte a second.
say("opening \(count) slowloris sockets from 100 loopback addresses")
let slow = Slowloris(count: count, port: bench.port)
let trickle = Task { await slow.trickle(every: .seconds(1)) }
let withSlowloris = await healthy("\(count) slowloris")
let slowHeld = slow.stillOpen()
row("\(count) slowloris", withSlowloris, quiet: quiet, rss: residentBytes(pid: core),
    extra: "\(slow.connected) connected, \(slowHeld) still open at the end (max_connections_awaiting_hello \(awaitingHelloCap))")
trickle.cancel()
slow.closeAll()

// 4. Peers that stop reading and keep sending pings.
say("\(stuckPeers) peers stop reading and send pings")
var stuck: [LinkcoreConnection] = []
for i in 0..<stuckPeers { stuck.append(try await LinkcoreConnection.connect(to: .tcp(host: "127.0.0.1", port: bench.port), tls: contexts[i % contexts.count])) }
var pings = [UInt8]()
for id in 0..<1000 {
    var envelope = LCEnvelope()
    envelope.id = UInt64(1000 + id)
    envelope.ping = LCPing.with { $0.payload = Data(repeating: 0x78, count: WireDefaults.maxPingPayload) }
    pings += Array(try envelope.frame().readableBytesView)
}
for peer in stuck {
    try await peer.channel.setOption(ChannelOptions.autoRead, value: false).get()
    for _ in 0..<20 { peer.sendRaw(pings) }  // 20,000 pings each: 100 x 1.8 MB of pongs owed
}
let withStuck = await healthy("\(stuckPeers) stuck peers")
let stuckStatus = try await bench.status()
row("\(stuckPeers) peers not reading", withStuck, quiet: quiet, rss: residentBytes(pid: core),
    extra: "the core holds \(stuckStatus.connections) connections (\(stuckPeers) stuck + 3 healthy); max_outbound_bytes \(outboundCap) each")
for peer in stuck { await peer.close() }

print("linkcore connections at scale (\(count) connections, healthy requester 16 in flight, \(Int(seconds)) s per phase, \(ProcessInfo.processInfo.activeProcessorCount) cores)")
print("phase                        |  med/s   |  p50 µs  |  p99 µs   | p99 ÷ quiet | errors | RSS MiB | notes")
for line in rows { print(line) }
await requester.close()
await provider.close()
await matcher.close()
await bench.stop()
