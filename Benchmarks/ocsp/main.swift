// OCSP responses per second: `linkcore-jpki ocsp-serve` against `openssl ocsp -port` (OpenSSL's
// reference responder, reading an index.txt) in the same run, for the same DER request (made once
// by `openssl ocsp -reqout`), same CA, same delegated signer key. Each request is one HTTP/1.1
// POST on a fresh loopback connection (openssl's responder serves one connection at a time and
// closes it), answered, read to the end and checked (HTTP 200, OCSPResponse status successful).
//
// Two shapes: 1 client (latency-bound, what one verifier sees) and 4 clients at once (what a
// responder does under load; openssl's serves them one after the other).
//
// Run: swift build -c release --product linkcore-jpki --product ocsp-bench && .build/release/ocsp-bench [seconds]
import Foundation
import LinkcoreJPKI
import LinkcoreOCSP
import LinkcorePKI
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

let seconds = CommandLine.arguments.dropFirst().compactMap(Double.init).first ?? 3

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

/// One POST on a new connection; true when the answer is HTTP 200 with a successful OCSPResponse.
func exchange(port: Int, request: [UInt8]) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
    guard connected else { return false }
    let head = "POST / HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: application/ocsp-request\r\n"
        + "Content-Length: \(request.count)\r\nConnection: close\r\n\r\n"
    let message = Array(head.utf8) + request
    guard message.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == message.count else { return false }
    var answer: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 8192)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        answer += buffer[0..<n]
    }
    // "HTTP/1.x 200", then the body: SEQUENCE, then responseStatus ENUMERATED 0 (successful).
    guard answer.count > 12, answer[9] == UInt8(ascii: "2"), answer[10] == UInt8(ascii: "0"), answer[11] == UInt8(ascii: "0"),
          let end = answer.indices.dropLast(3).first(where: { answer[$0...$0 + 3] == [13, 10, 13, 10] }) else { return false }
    let body = answer[(end + 4)...]
    guard body.count > 8, body.first == 0x30 else { return false }
    let lengthBytes = body[body.startIndex + 1] & 0x80 != 0 ? Int(body[body.startIndex + 1] & 0x7F) : 0
    let status = body.startIndex + 2 + lengthBytes
    return body[status] == 0x0A && body[status + 1] == 0x01 && body[status + 2] == 0x00
}

/// Responses per second with `clients` threads, each one request after the other, for `seconds`.
func measure(port: Int, clients: Int, request: [UInt8], seconds: Double) throws -> Double {
    for _ in 0..<20 where !exchange(port: port, request: request) { throw BenchFailure("no good answer on port \(port)") }
    let totals = Mutex((answered: 0, failed: 0))
    let start = ContinuousClock.now
    let deadline = start + .milliseconds(Int(seconds * 1000))
    DispatchQueue.concurrentPerform(iterations: clients) { _ in
        var (answered, failed) = (0, 0)
        while ContinuousClock.now < deadline {
            if exchange(port: port, request: request) { answered += 1 } else { failed += 1 }
        }
        totals.withLock { $0.answered += answered; $0.failed += failed }
    }
    let elapsed = ContinuousClock.now - start
    let (answered, failed) = totals.withLock { $0 }
    if failed > 0 { throw BenchFailure("\(failed) failed exchanges on port \(port)") }
    return Double(answered) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

/// The port from the first line of `log` starting with `prefix` and ending in ":PORT…".
func reportedPort(_ log: String, prefix: String) -> Int {
    for _ in 0..<600 {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        if let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }),
           let port = Int(line.split(separator: ":").last?.prefix { $0.isNumber } ?? "") {
            return port
        }
        usleep(50_000)
    }
    return 0
}

/// Both responders up, both measured, both stopped (also when a phase fails).
func compare(jpki: String, openssl: String, work: String, request: [UInt8], seconds: Double) throws {
    let ours = try Server([jpki, "ocsp-serve", "--dir", work, "--listen", "127.0.0.1:0", "--log-level", "warning"], log: work + "/ours.log")
    defer { ours.stop() }
    let ourPort = reportedPort(ours.log, prefix: "ocsp 127.0.0.1:")
    guard ourPort > 0 else { throw BenchFailure("ocsp-serve did not report its port") }

    // openssl prints "ACCEPT [::]:PORT PID=…" once it listens on the port it was given (0: any).
    let reference = try Server([
        openssl, "ocsp", "-index", work + "/index.txt", "-port", "0", "-rsigner", work + "/ocsp-signer.pem",
        "-rkey", work + "/ocsp-signer.key", "-CA", work + "/ca.pem", "-nmin", "10", "-ignore_err",
    ], log: work + "/openssl.log")
    defer { reference.stop() }
    let referencePort = reportedPort(reference.log, prefix: "ACCEPT ")
    guard referencePort > 0 else { throw BenchFailure("openssl ocsp did not report its port") }

    print("OCSP responses/s, one POST per connection, \(seconds) s per phase (same request, CA and signer key)")
    print("clients   linkcore-jpki   openssl ocsp -port   ratio")
    for clients in [1, 4] {
        let mine = try measure(port: ourPort, clients: clients, request: request, seconds: seconds)
        let theirs = try measure(port: referencePort, clients: clients, request: request, seconds: seconds)
        print(String(format: "%7d   %13.0f   %18.0f   %5.2f", clients, mine, theirs, mine / theirs))
    }
    let alone = try inProcess(work: work, request: request, seconds: seconds)
    print(String(format: "OCSPResponder.respond in process (no HTTP, 1 thread): %.0f/s", alone))
}

/// `OCSPResponder.respond` alone on one thread, same store and request: the responder's own cost
/// (parse, store read, signature), so the table shows what the HTTP service adds to it.
func inProcess(work: String, request: [UInt8], seconds: Double) throws -> Double {
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
    try compare(jpki: jpki, openssl: openssl, work: work, request: request, seconds: seconds)
} catch {
    try? FileManager.default.removeItem(atPath: work)
    throw error
}
try? FileManager.default.removeItem(atPath: work)
