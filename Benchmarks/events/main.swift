// Change events delivered per second to 10 connected organisations, end to end with real
// processes on loopback over mutual TLS: the bench, holding the matcher's certificate, links
// every resident to all 10 organisations, then reports changes (64 outstanding). Each report
// is one durable fan-out write in linkcored (10 outbox rows), then 10 ChangeEvent pushes, each
// acknowledged by the organisation and recorded durably. Counted: events received and
// acknowledged by the organisations, and the time until the core's outbox shows all of them
// delivered (linkctl status figures).
//
// The core runs with `[events] delivery_window_ms = 0` (events released at once): with the
// production window (60 s, protocol.md §9.2) the time to deliver is the window, not the core's
// throughput, so the figures measure the machinery, not the privacy delay.
//
// Then (finding 7c) the arrival-time gap and order agreement between two receivers of the same
// changes, with window 0 and with a 2 s window, each on its own core (Spread.swift).
//
// Baselines in the same run: (1) the same number of Ping round trips over the same 10
// connections, 64 outstanding; (2) single-row SQLite commits with synchronous=FULL on the same
// disk (the durability floor).
//
//   swift build -c release --product events-bench --product linkcored
//   .build/release/events-bench [reports=2000] [residents=200]
import Foundation
import LinkcoreClient
import BenchSupport
import LinkcoreSQLite
import LinkcoreTLS
import LinkcoreWire
import Synchronization

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let reports = arguments.first ?? 2000
let residents = arguments.dropFirst().first ?? 200
let orgCodes = (0..<10).map { String(format: "ORG%02d", $0) }
let outstanding = 64
let bench = try await BenchCore.start(name: "events-bench", orgs: orgCodes + ["MATCHER"], extraConfig: "[events]\ndelivery_window_ms = 0")
let corePort = bench.port
func path(_ name: String) -> String { bench.path(name) }
func status() async throws -> LCStatus { try await bench.status() }
func tls(_ org: String) throws -> TLSContext { try bench.tls(org) }
for org in orgCodes { try await bench.addOrg(org) }
try await bench.addOrg("MATCHER", name: "Matcher", role: .matcher)

/// Change events received (and acknowledged) by all organisations; the time the last arrived.
let received = Mutex<(count: Int, last: ContinuousClock.Instant?)>((0, nil))
var connections: [LinkcoreConnection] = []
for org in orgCodes {
    connections.append(try await LinkcoreConnection.connect(
        to: .tcp(host: "127.0.0.1", port: corePort), tls: try tls(org),
        hello: LinkcoreConnection.defaultHello(software: "events-bench", acceptsPushes: true),
        incoming: { request in
            switch request.body {
            case .changeEvent?:
                received.withLock { $0.count += 1; $0.last = .now }
                return .success(.changeEventAck(LCChangeEventAck()))
            default:
                return .success(.linkIssuedAck(LCLinkIssuedAck()))
            }
        }))
}
let asMatcher = try await LinkcoreConnection.connect(to: .tcp(host: "127.0.0.1", port: corePort), tls: try tls("MATCHER"))
let pushConnections = connections

/// Runs `count` requests with `outstanding` in flight; returns seconds and errors.
func run(_ count: Int, _ body: @escaping @Sendable (Int) async -> Bool) async -> (seconds: Double, errors: Int) {
    let start = ContinuousClock.now
    let errors = await withTaskGroup(of: Int.self) { group in
        for worker in 0..<outstanding {
            group.addTask {
                var errors = 0
                for i in stride(from: worker, to: count, by: outstanding) {
                    if await !body(i) { errors += 1 }
                }
                return errors
            }
        }
        return await group.reduce(0, +)
    }
    let d = ContinuousClock.now - start
    return (Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18, errors)
}
func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

let codes = (0..<residents).map { String(format: "2%010d", $0) }
say("linking \(residents) residents to \(orgCodes.count) organisations")
let expires = Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000
let linking = await run(residents * orgCodes.count) { i in
    let reply = try? await asMatcher.request(.issueLink(.with {
        $0.residentCode = codes[i / orgCodes.count]; $0.orgCode = orgCodes[i % orgCodes.count]
        $0.matchingNumber = "bench-\(i)"; $0.expiresAtMs = expires
    }))
    if case .issueLinkResponse? = reply { return true }
    return false
}
guard linking.errors == 0 else { throw BenchError(description: "\(linking.errors) link issuances failed") }

say("baseline: \(reports * orgCodes.count) pings over the same \(orgCodes.count) connections")
let pings = await run(reports * orgCodes.count) { i in
    let reply = try? await pushConnections[i % pushConnections.count].request(.ping(.with { $0.payload = Data("p".utf8) }))
    if case .pong? = reply { return true }
    return false
}

say("baseline: durable single-row SQLite commits")
let floorDB = try SQLiteDatabase(path: path("baseline.sqlite"))
try floorDB.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
let floorStart = ContinuousClock.now
var commits = 0
while seconds(ContinuousClock.now - floorStart) < 3 {
    try floorDB.transaction { try floorDB.query("INSERT INTO t (v) VALUES (?)", [.blob(Array(repeating: 7, count: 32))]) }
    commits += 1
}
let commitsPerSecond = Double(commits) / seconds(ContinuousClock.now - floorStart)

say("events: \(reports) changes reported, each to \(orgCodes.count) organisations")
let expected = reports * orgCodes.count
let start = ContinuousClock.now
let reporting = await run(reports) { i in
    let reply = try? await asMatcher.request(.reportChange(.with {
        $0.residentCode = codes[i % residents]; $0.kind = .moved; $0.reportID = "bench-\(i)"
        $0.occurredAtMs = Int64(Date().timeIntervalSince1970 * 1000)
    }))
    if case let .reportChangeResponse(r)? = reply, r.eventsQueued == UInt32(orgCodes.count) { return true }
    return false
}
let reportedAt = ContinuousClock.now
for _ in 0..<30_000 where received.withLock({ $0.count }) < expected { try await Task.sleep(for: .milliseconds(2)) }
let (count, last) = received.withLock { ($0.count, $0.last) }
var final = try await status()
while final.eventsDelivered < UInt64(expected), seconds(ContinuousClock.now - start) < 120 {
    try await Task.sleep(for: .milliseconds(5))
    final = try await status()
}
let durableAt = ContinuousClock.now
let deliveredSeconds = seconds((last ?? reportedAt) - start)
let eventsPerSecond = Double(count) / deliveredSeconds
let pingsPerSecond = Double(reports * orgCodes.count - pings.errors) / pings.seconds

print("linkcore change-event benchmark: \(reports) reports x \(orgCodes.count) organisations, \(residents) residents, \(outstanding) outstanding, loopback mTLS")
print(String(format: "reports:   %d in %.2f s = %.0f reports/s (%d errors)", reports, seconds(reportedAt - start),
             Double(reports) / seconds(reportedAt - start), reporting.errors))
print(String(format: "events:    %d/%d received and acknowledged in %.2f s = %.0f events/s", count, expected, deliveredSeconds, eventsPerSecond))
print(String(format: "durable:   outbox shows %d delivered, %d pending after %.2f s = %.0f events/s",
             final.eventsDelivered, final.eventsPending, seconds(durableAt - start), Double(final.eventsDelivered) / seconds(durableAt - start)))
print(String(format: "baseline:  %.0f pings/s over the same connections (%d errors); %.0f durable SQLite commits/s",
             pingsPerSecond, pings.errors, commitsPerSecond))
print(String(format: "ratio:     events/s / pings/s = %.3f; events/s / durable commits/s = %.2f",
             eventsPerSecond / pingsPerSecond, eventsPerSecond / commitsPerSecond))
for connection in connections { await connection.close() }
await asMatcher.close()
await bench.stop()

// Finding 7(c): the same changes to two receivers, with no window (as before the fix) and with
// a 2 s window (the production default is 60 s; 2 s keeps the run short, the figures scale).
say("timing spread: 40 changes 50 ms apart, each to two receivers, window 0 and 2000 ms")
for spread in [try await measureSpread(windowMs: 0, reports: 40, gapMs: 50), try await measureSpread(windowMs: 2000, reports: 40, gapMs: 50)] {
    print(String(format: "spread:    window %5d ms: %d changes; |arrival A - arrival B| median %.1f ms, max %.1f ms; within 5 ms: %.0f%%; same order: %.0f%% of pairs",
                 spread.windowMs, spread.changes, spread.medianGapMs, spread.maxGapMs, spread.within5ms * 100, spread.sameOrder * 100))
}
