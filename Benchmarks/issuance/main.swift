// End-to-end link issuances per second: organisation -> linkcore-matcher (My Number match,
// one-time matching number) -> linkcored (durable issuance) -> MatchAccepted, with real
// processes on loopback over mutual TLS. Baseline in the same run: single-row SQLite
// transactions with synchronous=FULL on the same disk, the durability floor every issuance
// pays several times (matcher: ticket written and consumed; core: link and issuance).
//
// Then the bulk phase (初期紐付け: linking every resident to an organisation that joins): the
// bench, holding the matcher's certificate, asks the core to issue a link to HEALTH01 for every
// resident of the registry with 256 requests outstanding, while HEALTH01 is connected and
// acknowledges each pushed link. It reports time, the core's database size and peak memory.
//
//   swift build -c release && swift run -c release issuance-bench [residents=20000] [seconds=5]
//   (residents=1000000 for the issue's figure: about 1 min to generate, several to link)
import Foundation
import LinkcoreClient
import BenchSupport
import LinkcoreSQLite
import LinkcoreTLS
import LinkcoreWire

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let residents = arguments.first ?? 20000
let seconds = Double(arguments.dropFirst().first ?? 5)
let bench = try await BenchCore.start(name: "issuance-bench", orgs: ["CITY01", "HEALTH01", "MATCHER"])
let bin = bench.bin, core = bench.process, admin = bench.admin, corePort = bench.port
func path(_ name: String) -> String { bench.path(name) }
func write(_ name: String, _ text: String) throws { try bench.write(name, text) }
func tls(_ org: String) throws -> TLSContext { try bench.tls(org) }
try await bench.addOrg("CITY01", name: "City")
try await bench.addOrg("HEALTH01", name: "Health insurer")
try await bench.addOrg("MATCHER", name: "Matcher", role: .matcher)

func spawn(_ executable: String, _ args: [String], log: String) throws -> Process {
    let process = Process()
    process.executableURL = bin.appendingPathComponent(executable)
    process.arguments = args
    _ = FileManager.default.createFile(atPath: path(log), contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path(log)))
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
    return process
}

func waitFor(_ what: String, _ condition: () async throws -> Bool) async throws {
    for _ in 0..<500 {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw BenchError(description: "timed out waiting for \(what)")
}

// The registry.
say("generating \(residents) residents")
let generateStart = Date()
let generate = try spawn("linkcore-matcher", ["registry", "generate", "--db", path("registry.sqlite"), "--count", "\(residents)", "--seed", "7"], log: "generate.log")
generate.waitUntilExit()
let generateSeconds = Date().timeIntervalSince(generateStart)
/// Peak resident memory of the largest child waited for so far, in MB (ru_maxrss is in KB).
func childrenPeakMB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_CHILDREN.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}
let generatePeakMB = childrenPeakMB()
func fileMB(_ file: String) -> Double {
    let sizes = ["", "-wal"].map { (try? FileManager.default.attributesOfItem(atPath: file + $0)[.size] as? Int) ?? 0 }
    return Double(sizes.reduce(0, +)) / 1_048_576
}
let registryMB = fileMB(path("registry.sqlite"))
let living = try SQLiteDatabase(path: path("registry.sqlite"), readOnly: true)
    .query("SELECT my_number, resident_code FROM residents WHERE status = 'alive'")
let myNumbers = living.compactMap { $0.string(0) }
let residentCodes = living.compactMap { $0.string(1) }

// The matcher.
// "notice" keeps the matcher's per-request info lines out of the measurement; the bound port is
// logged at notice level.
try write("matcher.toml", """
    [registry]
    path = "\(path("registry.sqlite"))"
    [listen]
    addresses = ["127.0.0.1:0"]
    [tls]
    certificate = "\(path("server.pem"))"
    private_key = "\(path("server.key"))"
    ca_bundle = "\(path("ca.pem"))"
    crl = "\(path("crl.pem"))"
    [core]
    address = "127.0.0.1:\(corePort)"
    server_name = "localhost"
    client_certificate = "\(path("MATCHER.pem"))"
    client_key = "\(path("MATCHER.key"))"
    [log]
    level = "notice"
    """)
let matcher = try spawn("linkcore-matcher", ["serve", "--config", path("matcher.toml")], log: "matcher.log")
defer { matcher.terminate() }
var matcherPort = 0
try await waitFor("linkcore-matcher") {
    let text = (try? String(contentsOfFile: path("matcher.log"), encoding: .utf8)) ?? ""
    guard let line = text.split(separator: "\n").first(where: { $0.contains("listening on") }),
          let port = line.split(separator: ":").last.flatMap({ Int($0.filter(\.isNumber)) }) else { return false }
    matcherPort = port
    return true
}
let cityTLS = try tls("CITY01")
// The organisation's core connection takes the pushed links and acknowledges them.
let inbox = try await LinkcoreConnection.connect(
    to: .tcp(host: "127.0.0.1", port: corePort), tls: cityTLS,
    hello: LinkcoreConnection.defaultHello(software: "bench", acceptsPushes: true),
    incoming: { _ in .success(.linkIssuedAck(LCLinkIssuedAck())) })

// Baseline: durable single-row commits on the same disk.
func baseline() throws -> Double {
    let db = try SQLiteDatabase(path: path("baseline.sqlite"))
    try db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB)")
    let start = Date()
    var n = 0
    while Date().timeIntervalSince(start) < seconds {
        try db.transaction { try db.query("INSERT INTO t (v) VALUES (?)", [.blob(Array(repeating: 7, count: 32))]) }
        n += 1
    }
    return Double(n) / Date().timeIntervalSince(start)
}

/// Issuances with `concurrency` requests outstanding, each for a resident not linked before.
func issuances(concurrency: Int, numbers: ArraySlice<String>) async throws -> (rate: Double, p50: Double, p99: Double, done: Int, errors: Int) {
    let connection = try await LinkcoreConnection.connect(to: .tcp(host: "127.0.0.1", port: matcherPort), tls: cityTLS)
    defer { Task { await connection.close() } }
    let queue = Array(numbers)
    let start = Date()
    let results = try await withThrowingTaskGroup(of: [(Double, Bool)].self) { group in
        for worker in 0..<concurrency {
            group.addTask {
                var out: [(Double, Bool)] = []
                var i = worker
                while i < queue.count, Date().timeIntervalSince(start) < seconds {
                    let t0 = Date()
                    let reply = try? await connection.request(.matchRequest(.with { $0.myNumber = queue[i]; $0.consentRef = "bench" }))
                    var ok = false
                    if case .matchAccepted? = reply { ok = true }
                    out.append((Date().timeIntervalSince(t0) * 1e6, ok))
                    i += concurrency
                }
                return out
            }
        }
        var all: [(Double, Bool)] = []
        for try await part in group { all += part }
        return all
    }
    let elapsed = Date().timeIntervalSince(start)
    let latencies = results.filter(\.1).map(\.0).sorted()
    func pct(_ p: Double) -> Double { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
    return (Double(latencies.count) / elapsed, pct(0.5), pct(0.99), latencies.count, results.count - latencies.count)
}

say("baseline: durable SQLite commits for \(seconds) s")
let floor = try baseline()
var offset = 0
var lines: [String] = []
for concurrency in [1, 16] {
    say("issuances with \(concurrency) outstanding for \(seconds) s")
    let slice = myNumbers[offset...]
    let r = try await issuances(concurrency: concurrency, numbers: slice)
    offset += r.done + r.errors
    lines.append(String(format: "%-12d | %10.0f | %8.0f | %8.0f | %6d | %17.0f | %5.3f",
                        concurrency, r.rate, r.p50, r.p99, r.errors, floor, r.rate / floor))
}
/// Peak resident memory of a running process, from /proc (VmHWM, in kB).
func peakMB(_ pid: Int32) -> Double {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
    return Double(line.split(separator: " ").dropFirst().first ?? "0").map { $0 / 1024 } ?? 0
}

/// The bulk phase: every resident linked to HEALTH01, the bench speaking as the matcher.
func bulkLink(codes: [String], outstanding: Int) async throws -> (seconds: Double, errors: Int) {
    // BENCH_NO_ACK=1: HEALTH01 stays away, so links wait in the store instead of being pushed.
    let health = ProcessInfo.processInfo.environment["BENCH_NO_ACK"] != nil ? nil
        : try await bench.connect("HEALTH01") { _ in .success(.linkIssuedAck(LCLinkIssuedAck())) }
    let asMatcher = try await bench.connect("MATCHER")
    let expires = Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000
    let start = Date()
    let errors = try await withThrowingTaskGroup(of: Int.self) { group in
        for worker in 0..<outstanding {
            group.addTask {
                var errors = 0
                for i in stride(from: worker, to: codes.count, by: outstanding) {
                    let reply = try? await asMatcher.request(.issueLink(.with {
                        $0.residentCode = codes[i]; $0.orgCode = "HEALTH01"; $0.matchingNumber = "bulk-\(i)"; $0.expiresAtMs = expires
                    }))
                    if case .issueLinkResponse? = reply {} else { errors += 1 }
                    if worker == 0, (i / outstanding) % max(1, codes.count / outstanding / 20) == 0 {
                        say(String(format: "bulk: %d / %d linked (%.0f s)", i, codes.count, Date().timeIntervalSince(start)))
                    }
                }
                return errors
            }
        }
        return try await group.reduce(0, +)
    }
    let seconds = Date().timeIntervalSince(start)
    await asMatcher.close()
    await health?.close()
    return (seconds, errors)
}
say("bulk: linking all \(residentCodes.count) residents to HEALTH01 (256 outstanding)")
let bulk = try await bulkLink(codes: residentCodes, outstanding: 256)
let corePeakMB = peakMB(core.processIdentifier)
let coreMB = fileMB(path("state/linkcore.sqlite"))

print("linkcore end-to-end issuance benchmark (\(residents) residents, \(Int(seconds)) s per run, 2 cores, loopback mTLS)")
print("outstanding  | issuances/s |  p50 µs  |  p99 µs  | errors | fsync commits/s   | ratio")
for line in lines { print(line) }
print("")
print(String(format: "registry: %d residents generated in %.1f s, %.0f MB, generator peak RSS %.0f MB",
             residents, generateSeconds, registryMB, generatePeakMB))
print(String(format: "bulk linking: %d links in %.1f s = %.0f links/s (%d errors); fsync floor ratio %.2f",
             residentCodes.count, bulk.seconds, Double(residentCodes.count) / bulk.seconds, bulk.errors,
             Double(residentCodes.count) / bulk.seconds / floor))
print(String(format: "core database after all runs: %.0f MB (%.0f bytes per link); linkcored peak RSS %.0f MB",
             coreMB, coreMB * 1_048_576 / Double(max(1, residentCodes.count)), corePeakMB))
await inbox.close()
await bench.stop()
