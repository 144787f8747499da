// Change events delivered per second to 10 connected organisations, end to end with real
// processes on loopback over mutual TLS: the bench, holding the matcher's certificate, links
// every resident to all 10 organisations, then reports changes (64 outstanding). Each report
// is one durable fan-out write in linkcored (10 outbox rows), then 10 ChangeEvent pushes, each
// acknowledged by the organisation and recorded durably. Counted: events received and
// acknowledged by the organisations, and the time until the core's outbox shows all of them
// delivered (linkctl status figures).
//
// Baselines in the same run: (1) the same number of Ping round trips over the same 10
// connections, 64 outstanding; (2) single-row SQLite commits with synchronous=FULL on the same
// disk (the durability floor).
//
//   swift build -c release --product events-bench --product linkcored
//   .build/release/events-bench [reports=2000] [residents=200]
import Foundation
import LinkcoreClient
import LinkcorePKI
import LinkcoreSQLite
import LinkcoreTLS
import LinkcoreWire
import Synchronization

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let reports = arguments.first ?? 2000
let residents = arguments.dropFirst().first ?? 200
let orgCodes = (0..<10).map { String(format: "ORG%02d", $0) }
let outstanding = 64
let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
let work = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("events-bench-\(getpid())")
try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: work) }
func path(_ name: String) -> String { work.appendingPathComponent(name).path }
func write(_ name: String, _ text: String) throws { try text.write(toFile: path(name), atomically: true, encoding: .utf8) }
func say(_ text: String) { FileHandle.standardError.write(Data("==> \(text)\n".utf8)) }
struct BenchError: Error, CustomStringConvertible { var description: String }

say("PKI and configuration in \(work.path)")
let ca = try CertificateAuthority.create(commonName: "bench CA", validDays: 30)
try write("ca.pem", ca.certificate.certificatePEM)
try write("crl.pem", try ca.makeCRL(revokedSerials: [], nextUpdateDays: 7))
let server = try ca.issueServer(commonName: "localhost", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validDays: 20)
try write("server.pem", server.certificatePEM); try write("server.key", server.privateKeyPEM)
for org in orgCodes + ["MATCHER"] {
    let cert = try ca.issueOrganisation(code: org, name: org, validDays: 20)
    try write("\(org).pem", cert.certificatePEM); try write("\(org).key", cert.privateKeyPEM)
}
_ = FileManager.default.createFile(atPath: path("master.key"), contents: Data((0..<32).map { _ in UInt8.random(in: 0...255) }),
                               attributes: [.posixPermissions: 0o600])
try write("linkcored.toml", """
    [core]
    id = "bench"
    state_directory = "\(path("state"))"
    [listen]
    addresses = ["127.0.0.1:0"]
    admin_socket = "\(path("admin.sock"))"
    [tls]
    certificate = "\(path("server.pem"))"
    private_key = "\(path("server.key"))"
    ca_bundle = "\(path("ca.pem"))"
    crl = "\(path("crl.pem"))"
    [log]
    level = "warning"
    [keys]
    master_secret = "\(path("master.key"))"
    """)

let core = Process()
core.executableURL = bin.appendingPathComponent("linkcored")
core.arguments = ["--config", path("linkcored.toml")]
_ = FileManager.default.createFile(atPath: path("linkcored.log"), contents: nil)
let coreLog = try FileHandle(forWritingTo: URL(fileURLWithPath: path("linkcored.log")))
core.standardOutput = coreLog
core.standardError = coreLog
try core.run()
defer { core.terminate() }
for _ in 0..<500 where !FileManager.default.fileExists(atPath: path("admin.sock")) { try await Task.sleep(for: .milliseconds(20)) }
let admin = try await LinkcoreConnection.connect(to: .unix(path: path("admin.sock")), tls: nil, hello: nil)
func status() async throws -> LCStatus {
    guard case let .status(s)? = try await admin.request(.statusRequest(LCStatusRequest())) else { throw BenchError(description: "no status") }
    return s
}
guard let corePort = try await status().listenAddresses.first?.split(separator: ":").last.flatMap({ Int($0) }) else {
    throw BenchError(description: "the core reported no listen address")
}
for org in orgCodes {
    _ = try await admin.request(.orgAdd(.with { $0.org = .with { $0.code = org; $0.name = org; $0.sector = .public; $0.role = .agency } }))
}
_ = try await admin.request(.orgAdd(.with { $0.org = .with { $0.code = "MATCHER"; $0.name = "Matcher"; $0.sector = .public; $0.role = .matcher } }))

func tls(_ org: String) throws -> TLSContext {
    try TLSContext.client(TLSConfiguration(certificateChainPath: path("\(org).pem"), privateKeyPath: path("\(org).key"),
                                           trustRootsPath: path("ca.pem"), serverName: "localhost"))
}

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
await admin.close()
