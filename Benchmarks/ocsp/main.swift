// OCSP responses per second: `linkcore-jpki ocsp-serve` against `openssl ocsp -port` (OpenSSL's
// reference responder, reading an index.txt) in the same run, for the same DER request (made once
// by `openssl ocsp -reqout`), same CA, same delegated signer key. Each request is one HTTP/1.1 POST,
// answered, read to the end and checked (HTTP 200, OCSPResponse status successful).
//
// Shapes: a fresh loopback connection per request (what `openssl ocsp` and most OCSP clients do;
// openssl's responder closes after each answer) with 1 client (latency-bound, what one verifier
// sees) and 4 clients at once (a responder under load; openssl's serves them one after the other);
// then one kept-alive connection per client (what AsyncHTTPClient, and so `HTTPOCSPTransport`, does),
// for linkcore-jpki only: `openssl ocsp -port` serves one connection at a time, so a client holding
// its connection open would starve the others.
//
// `--before PATH`: a second `linkcore-jpki` (e.g. a release build of an earlier commit, kept out of
// git in `.build-before/`), measured in the same rounds: a before/after comparison in one run.
// `--rounds N` (default 1): each shape N times, the servers in alternating order, every round printed.
//
// Run: swift build -c release --product linkcore-jpki && swift build -c release --product ocsp-bench &&
//      .build/release/ocsp-bench [seconds, default 3] [--before PATH] [--rounds N]
import Foundation
import LinkcoreJPKI
import LinkcoreOCSP
import LinkcorePKI
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? { arguments.firstIndex(of: name).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil } }
let seconds = arguments.first.flatMap(Double.init) ?? 3
let before = option("--before")
let rounds = option("--rounds").flatMap(Int.init) ?? 1

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

let products = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
let jpki = products.appendingPathComponent("linkcore-jpki").path
let work = NSTemporaryDirectory() + "linkcore-ocsp-bench-" + UUID().uuidString.prefix(8)
try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)

@discardableResult
func run(_ executable: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw BenchFailure("\(executable) \(arguments) failed") }
    return String(decoding: data, as: UTF8.self)
}

/// A child started with posix_spawn (stdout and stderr to `log`), stopped with SIGTERM by its pid.
final class Server {
    let pid: pid_t
    let log: String
    init(_ command: [String], log: String) throws {
        self.log = log
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        guard posix_spawn(&child, command[0], &actions, nil, argv, environ) == 0 else { throw BenchFailure("cannot start \(command[0])") }
        pid = child
    }
    func stop() {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
}

// The authority: card CA, one certificate recorded as a personalised card's, the delegated signer.
_ = try run(jpki, ["ca-init", "--dir", work])
let ca = try CertificateAuthority(certificatePEM: try String(contentsOfFile: work + "/ca.pem", encoding: .utf8),
                                  privateKeyPEM: try String(contentsOfFile: work + "/ca.key", encoding: .utf8))
let leaf = try ca.issueClient(commonName: "bench card", sanURIs: [], notBefore: Date(), notAfter: Date().addingTimeInterval(86_400 * 365))
let other = try ca.issueClient(commonName: "bench card auth", sanURIs: [], notBefore: Date(), notAfter: Date().addingTimeInterval(86_400 * 365))
try leaf.certificatePEM.write(toFile: work + "/leaf.pem", atomically: true, encoding: .utf8)
let store = try CardAuthorityStore(path: work + "/authority.db")
try store.apply(card: "BENCH01", residentCode: "00000000001")
try store.personalise(card: "BENCH01", signatureSerial: leaf.serialHex, userSerial: other.serialHex)
_ = try run(jpki, ["ocsp-signer", "--dir", work])
let openssl = "/usr/bin/openssl"
try run(openssl, ["ocsp", "-issuer", work + "/ca.pem", "-cert", work + "/leaf.pem", "-no_nonce", "-reqout", work + "/request.der"])
let request = Array(try Data(contentsOf: URL(fileURLWithPath: work + "/request.der")))

// openssl's index.txt: V, expiry (YYMMDDHHMMSSZ), no revocation date, serial, file, subject.
let expiry = DateFormatter()
expiry.locale = Locale(identifier: "en_US_POSIX")
expiry.timeZone = TimeZone(identifier: "UTC")
expiry.dateFormat = "yyMMddHHmmss'Z'"
try "V\t\(expiry.string(from: Date().addingTimeInterval(86_400 * 365)))\t\t\(leaf.serialHex)\tunknown\t/CN=bench card\n"
    .write(toFile: work + "/index.txt", atomically: true, encoding: .utf8)

/// A loopback connection to `port`, with a receive timeout so a stuck server fails the run instead of hanging it.
func connectTo(port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
    guard connected else { close(fd); return nil }
    return fd
}

func post(port: Int, request: [UInt8], keepAlive: Bool) -> [UInt8] {
    let head = "POST / HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: application/ocsp-request\r\n"
        + "Content-Length: \(request.count)\r\nConnection: \(keepAlive ? "keep-alive" : "close")\r\n\r\n"
    return Array(head.utf8) + request
}

/// True when `answer` (head and body) is HTTP 200 with a successful OCSPResponse.
func isGood(_ answer: ArraySlice<UInt8>, headEnd end: Int) -> Bool {
    // "HTTP/1.x 200", then the body: SEQUENCE, then responseStatus ENUMERATED 0 (successful).
    let start = answer.startIndex
    guard answer.count > 12, answer[start + 9] == UInt8(ascii: "2"), answer[start + 10] == UInt8(ascii: "0"),
          answer[start + 11] == UInt8(ascii: "0") else { return false }
    let body = answer[(end + 4)...]
    guard body.count > 8, body.first == 0x30 else { return false }
    let lengthBytes = body[body.startIndex + 1] & 0x80 != 0 ? Int(body[body.startIndex + 1] & 0x7F) : 0
    let status = body.startIndex + 2 + lengthBytes
    return body[status] == 0x0A && body[status + 1] == 0x01 && body[status + 2] == 0x00
}

func headEnd(_ bytes: [UInt8]) -> Int? {
    guard bytes.count >= 4 else { return nil }
    return (0...(bytes.count - 4)).first { bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10 }
}

/// One POST on a new connection, read until the server closes it.
func exchange(port: Int, request: [UInt8]) -> Bool {
    guard let fd = connectTo(port: port) else { return false }
    defer { close(fd) }
    let message = post(port: port, request: request, keepAlive: false)
    guard message.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == message.count else { return false }
    var answer: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 8192)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        answer += buffer[0..<n]
    }
    guard let end = headEnd(answer) else { return false }
    return isGood(answer[...], headEnd: end)
}

/// One client's kept-alive connection: POSTs one after the other on it, each answer read by its
/// Content-Length; reconnects when the server closed it (counted).
final class KeptAlive {
    let port: Int
    var fd: Int32 = -1
    var reconnects = 0
    init(port: Int) { self.port = port }
    deinit { if fd >= 0 { close(fd) } }

    func exchange(request: [UInt8]) -> Bool {
        if fd < 0 {
            guard let connected = connectTo(port: port) else { return false }
            fd = connected
            reconnects += 1
        }
        let message = post(port: port, request: request, keepAlive: true)
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        var good = false
        if message.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == message.count {
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                answer += buffer[0..<n]
                guard let end = headEnd(answer) else { continue }
                let head = String(decoding: answer[..<end], as: UTF8.self).lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) }
                guard let length else { break }
                if answer.count >= end + 4 + length {
                    good = isGood(answer[..<(end + 4 + length)], headEnd: end) && !head.contains("connection: close")
                    break
                }
            }
        }
        if !good {
            close(fd)
            fd = -1
        }
        return good
    }
}

final class Totals: Sendable {
    let counts = Mutex((answered: 0, failed: 0, connections: 0))
}

/// Responses per second with `clients` threads, each one request after the other, for `seconds`.
/// Returns the rate and, kept alive, how many connections the clients opened.
func measure(port: Int, clients: Int, keepAlive: Bool, request: [UInt8], seconds: Double) throws -> (rate: Double, connections: Int) {
    for _ in 0..<20 where !exchange(port: port, request: request) { throw BenchFailure("no good answer on port \(port)") }
    let totals = Totals()
    let start = ContinuousClock.now
    let deadline = start + .milliseconds(Int(seconds * 1000))
    // One thread per client (not DispatchQueue.concurrentPerform, which runs no more iterations at
    // once than there are cores: on 2 cores its "4 clients" were 2).
    let done = DispatchGroup()
    for _ in 0..<clients {
        done.enter()
        Thread {
            var (answered, failed) = (0, 0)
            let connection = KeptAlive(port: port)
            while ContinuousClock.now < deadline {
                let good = keepAlive ? connection.exchange(request: request) : exchange(port: port, request: request)
                if good { answered += 1 } else { failed += 1 }
            }
            totals.counts.withLock { $0.answered += answered; $0.failed += failed; $0.connections += keepAlive ? connection.reconnects : answered }
            done.leave()
        }.start()
    }
    done.wait()
    let elapsed = ContinuousClock.now - start
    let (answered, failed, connections) = totals.counts.withLock { $0 }
    if failed > 0 { throw BenchFailure("\(failed) failed exchanges on port \(port)") }
    return (Double(answered) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18), connections)
}

/// The port from the first line of `log` starting with `prefix` and ending in ":PORT…".
func reportedPort(_ log: String, prefix: String) -> Int {
    for _ in 0..<1200 {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        if let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }),
           let port = Int(line.split(separator: ":").last?.prefix { $0.isNumber } ?? "") {
            return port
        }
        usleep(50_000)
    }
    return 0
}

func ours(_ binary: String, _ name: String) throws -> (Server, Int) {
    let server = try Server([binary, "ocsp-serve", "--dir", work, "--listen", "127.0.0.1:0", "--log-level", "warning"], log: work + "/\(name).log")
    let port = reportedPort(server.log, prefix: "ocsp 127.0.0.1:")
    guard port > 0 else { server.stop(); throw BenchFailure("\(binary) ocsp-serve did not report its port") }
    return (server, port)
}

/// Every responder up, each shape measured with the servers interleaved (the order alternating
/// between rounds, so that a change in the machine's load moves a row's columns together), all stopped.
func compare(request: [UInt8], seconds: Double) throws {
    var servers: [(name: String, server: Server, port: Int)] = []
    defer { for entry in servers { entry.server.stop() } }
    let (mine, minePort) = try ours(jpki, "ocsp-serve")
    servers.append(("ocsp-serve", mine, minePort))
    if let before {
        let (old, oldPort) = try ours(before, "ocsp-serve-before")
        servers.append(("before", old, oldPort))
    }
    // openssl prints "ACCEPT [::]:PORT PID=…" once it listens on the port it was given (0: any).
    let reference = try Server([
        openssl, "ocsp", "-index", work + "/index.txt", "-port", "0", "-rsigner", work + "/ocsp-signer.pem",
        "-rkey", work + "/ocsp-signer.key", "-CA", work + "/ca.pem", "-nmin", "10", "-ignore_err",
    ], log: work + "/openssl.log")
    let referencePort = reportedPort(reference.log, prefix: "ACCEPT ")
    servers.append(("openssl", reference, referencePort))
    guard referencePort > 0 else { throw BenchFailure("openssl ocsp did not report its port") }

    print("OCSP responses/s, \(seconds) s per phase, \(rounds) round(s), same request, CA and signer key\(before.map { "; before = \($0)" } ?? "")")
    let names = servers.map(\.name)
    let header = ["round", "shape", "clients"] + names.map { $0 == "openssl" ? "openssl ocsp -port" : $0 }
        + ["ours/openssl"] + (before == nil ? [] : ["before/openssl", "ours/before"])
    print(header.joined(separator: "\t"))
    let shapes: [(keepAlive: Bool, clients: Int)] = [(false, 1), (false, 4), (true, 1), (true, 4)]
    var lastFresh: [Int: Double] = [:]
    for round in 1...max(1, rounds) {
        for shape in shapes {
            var rates: [String: Double] = [:]
            var connections: [String: Int] = [:]
            let order = round % 2 == 1 ? servers : servers.reversed()
            for entry in order where !(shape.keepAlive && entry.name == "openssl") {
                let result = try measure(port: entry.port, clients: shape.clients, keepAlive: shape.keepAlive, request: request, seconds: seconds)
                rates[entry.name] = result.rate
                connections[entry.name] = result.connections
            }
            let cells = names.map { name in rates[name].map { String(format: "%.0f", $0) } ?? "—" }
            // Kept alive, the ratios are against openssl's fresh-connection figure of this round's
            // shape with as many clients (its own best: it does not keep connections alive for them).
            let opensslRate = shape.keepAlive ? lastFresh[shape.clients] : rates["openssl"]
            if !shape.keepAlive { lastFresh[shape.clients] = rates["openssl"] }
            func ratio(_ a: Double?, _ b: Double?) -> String { a.flatMap { a in b.map { String(format: "%.2f", a / $0) } } ?? "—" }
            var row = ["\(round)", shape.keepAlive ? "kept alive" : "fresh conn", "\(shape.clients)"] + cells
            row.append(ratio(rates["ocsp-serve"], opensslRate))
            if before != nil { row += [ratio(rates["before"], opensslRate), ratio(rates["ocsp-serve"], rates["before"])] }
            if shape.keepAlive {
                row.append("(connections opened: " + names.compactMap { n in connections[n].map { "\(n) \($0)" } }.joined(separator: ", ") + ")")
            }
            print(row.joined(separator: "\t"))
        }
    }
    let alone = try inProcess(request: request, seconds: seconds)
    print(String(format: "OCSPResponder.respond in process (no HTTP, 1 thread): %.0f/s", alone))
}

/// `OCSPResponder.respond` alone on one thread, same store and request: the responder's own cost
/// (parse, store read, signature), so the table shows what the HTTP service adds to it.
func inProcess(request: [UInt8], seconds: Double) throws -> Double {
    let responder = try OCSPResponder(
        caCertificatePEM: try String(contentsOfFile: work + "/ca.pem", encoding: .utf8),
        signerCertificatePEM: try String(contentsOfFile: work + "/ocsp-signer.pem", encoding: .utf8),
        signerKeyPEM: try String(contentsOfFile: work + "/ocsp-signer.key", encoding: .utf8),
        source: try CardAuthorityStore(path: work + "/authority.db"), validity: .seconds(600))
    guard responder.respond(to: request).status == .successful else { throw BenchFailure("the responder did not answer") }
    let start = ContinuousClock.now
    let deadline = start + .milliseconds(Int(seconds * 1000))
    var answered = 0
    while ContinuousClock.now < deadline {
        if responder.respond(to: request).status == .successful { answered += 1 }
    }
    let elapsed = ContinuousClock.now - start
    return Double(answered) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

do {
    try compare(request: request, seconds: seconds)
} catch {
    try? FileManager.default.removeItem(atPath: work)
    throw error
}
try? FileManager.default.removeItem(atPath: work)
