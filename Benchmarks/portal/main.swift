// The portal's access-log page under wrk (issue 15 item 10, first half): a resident with 1,000
// entries in the core's log, the page `GET /log` (50 entries newest first, read through the core
// as PORTAL, rendered by swift-mustache) against the limit of the same server: a static page of
// the same size served by the same Hummingbird server behind the same TLS and headers
// (`GET /bench/static`, present only when the portal is started with
// LINKCORE_PORTAL_BENCH_STATIC_BYTES). Also `/home` logged in (a session read and its durable
// `last_seen_at_ms` write) against `/` without a cookie (no session), to see what the per-view
// session write costs. Run by Benchmarks/run-portal.sh; prints a table and the ratios.
import BenchSupport
import Foundation
import LinkcoreClient
import LinkcorePortal
import LinkcoreWire

let entries = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 1000
let seconds = Int(ProcessInfo.processInfo.environment["BENCH_SECONDS"] ?? "") ?? 10
let connections = Int(ProcessInfo.processInfo.environment["BENCH_CONNECTIONS"] ?? "") ?? 16
let bench = try await BenchCore.start(
    name: "portal-bench", orgs: ["CITY01", "TAX01", "MATCHER", "PORTAL"], files: ["whitelist.csv": "B1,BP-TAX,CITY01,TAX01,income,,\n"],
    extraConfig: """
    [mediation]
    whitelist = "whitelist.csv"
    [audit]
    checkpoint_interval_ms = 200
    """)
for (org, role) in [("CITY01", LCRole.agency), ("TAX01", .agency), ("MATCHER", .matcher), ("PORTAL", .portal)] {
    try await bench.addOrg(org, name: "Org \(org)", role: role)
}
say("links for one resident to CITY01, TAX01 and PORTAL")
let matcher = try await bench.connect("MATCHER")
var codes: [String: String] = [:]
for org in ["CITY01", "TAX01", "PORTAL"] {
    let connection = try await bench.connect(org)
    codes[org] = try await issueAndFetchLink(matcher: matcher, org: org, connection: connection, resident: "40000000001")
    await connection.close()
}
let provider = try await bench.connect("TAX01") { request in
    guard case .provide? = request.body else { return .failure(WireError(.unknownMessage, "only provide")) }
    return .success(.provideResponse(.with { $0.answer = Data("income 2025: 4,200,000".utf8) }))
}
say("\(entries) mediations for that resident (the access-log entries)")
let requester = try await bench.connect("CITY01")
let cityCode = codes["CITY01"] ?? "", portalCode = codes["PORTAL"] ?? ""
try await withThrowingTaskGroup(of: Void.self) { group in
    for worker in 0..<16 {
        group.addTask {
            for _ in stride(from: worker, to: entries, by: 16) {
                guard case .mediateResponse? = try await requester.request(.mediate(.with {
                    $0.bpID = "BP-TAX"; $0.providerOrg = "TAX01"; $0.linkCode = cityCode; $0.infoType = "income"
                    $0.query = Data("income 2025".utf8)
                })) else { throw BenchError(description: "a mediation failed") }
            }
        }
    }
    try await group.waitForAll()
}

// The portal: the bench's server certificate for HTTPS, PORTAL's for the core.
let database = bench.path("portal.sqlite")
try bench.write("portal.toml", """
    [portal]
    database = "\(database)"
    [https]
    listen = "127.0.0.1:0"
    certificate = "\(bench.path("server.pem"))"
    private_key = "\(bench.path("server.key"))"
    [core]
    address = "127.0.0.1:\(bench.port)"
    server_name = "localhost"
    certificate = "\(bench.path("PORTAL.pem"))"
    private_key = "\(bench.path("PORTAL.key"))"
    ca_bundle = "\(bench.path("ca.pem"))"
    [log]
    level = "warning"
    """)
let session = try await Sessions(store: try PortalStore(path: database), timeouts: .init(idle: .seconds(3600), absolute: .seconds(8 * 3600)))
    .create(lpLinkCode: portalCode)

func startPortal(staticBytes: Int) async throws -> (Process, Int) {
    let process = Process()
    process.executableURL = bench.bin.appendingPathComponent("linkcore-portal")
    process.arguments = ["run", "--config", bench.path("portal.toml")]
    var environment = ProcessInfo.processInfo.environment
    environment["LINKCORE_PORTAL_BENCH_STATIC_BYTES"] = "\(staticBytes)"
    for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "LISTEN_FDS"] { environment.removeValue(forKey: key) }
    process.environment = environment
    let out = bench.path("portal-\(staticBytes).log")
    _ = FileManager.default.createFile(atPath: out, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
    for _ in 0..<1000 {
        let log = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        if let line = log.split(separator: "\n").first(where: { $0.hasPrefix("portal https://") }),
           let port = Int(line.split(separator: ":").last ?? "") {
            // Connected to the core too (the log page needs it).
            for _ in 0..<1000 {
                if try curl(port, "/health").contains("core: connected") { return (process, port) }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw BenchError(description: "the portal did not start (see \(out))")
}

func run(_ executable: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

func curl(_ port: Int, _ path: String, cookie: Bool = false) throws -> String {
    try run("/usr/bin/curl", ["-s", "--cacert", bench.path("ca.pem"), "https://localhost:\(port)\(path)"]
        + (cookie ? ["-H", "Cookie: __Host-session=\(session.id)"] : []))
}

// The log page's size first, then the portal again with a static page of that size.
let (first, firstPort) = try await startPortal(staticBytes: 0)
let page = try curl(firstPort, "/log", cookie: true)
let rows = page.components(separatedBy: "class=\"entry\"").count - 1
guard rows == 50 else { throw BenchError(description: "the log page shows \(rows) entries, not 50") }
first.terminate(); first.waitUntilExit()
let size = page.utf8.count
let (portal, port) = try await startPortal(staticBytes: size)
guard try curl(port, "/bench/static").utf8.count == size else { throw BenchError(description: "the static page is not \(size) bytes") }

struct Figures { var rate: Double; var p50: String; var p99: String; var errors: String }
func wrk(_ path: String, cookie: Bool) throws -> Figures {
    var arguments = ["-t2", "-c\(connections)", "-d\(seconds)s", "--latency"]
    if cookie { arguments += ["-H", "Cookie: __Host-session=\(session.id)"] }
    let out = try run("/usr/bin/wrk", arguments + ["https://localhost:\(port)\(path)"])
    func after(_ label: String) -> String {
        out.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }
            .map { $0.trimmingCharacters(in: .whitespaces).dropFirst(label.count).trimmingCharacters(in: .whitespaces) } ?? "?"
    }
    let errors = out.split(separator: "\n").filter { $0.contains("Non-2xx") || $0.contains("Socket errors") }.joined(separator: "; ")
    return Figures(rate: Double(after("Requests/sec:")) ?? 0, p50: after("50%"), p99: after("99%"), errors: errors.isEmpty ? "none" : errors)
}

say("wrk: \(connections) connections, 2 threads, \(seconds) s each; page \(size) bytes")
let shapes: [(String, String, Bool)] = [
    ("/log (1,000 entries, 50 shown)", "/log", true), ("static page, same size", "/bench/static", false),
    ("/home logged in (session read + last-seen write)", "/home", true), ("/ no session", "/", false),
]
var figures: [Figures] = []
for (label, path, cookie) in shapes {
    say(label)
    figures.append(try wrk(path, cookie: cookie))
}
print("| page | requests/s | p50 | p99 | errors |")
print("|---|---:|---:|---:|---|")
for ((label, _, _), f) in zip(shapes, figures) {
    print("| \(label) | \(String(format: "%.0f", f.rate)) | \(f.p50) | \(f.p99) | \(f.errors) |")
}
print(String(format: "log page / static page of the same size: %.3f", figures[0].rate / max(figures[1].rate, 1)))
print(String(format: "/home logged in / landing without a session: %.3f", figures[2].rate / max(figures[3].rate, 1)))
portal.terminate(); portal.waitUntilExit()
await provider.close(); await requester.close(); await matcher.close()
await bench.stop()
