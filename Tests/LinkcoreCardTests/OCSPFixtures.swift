import Foundation
import LinkcoreCardVerifier
import LinkcoreTestSupport
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The openssl CLI, run to completion (key and certificate making, pre-signed OCSP answers).
@discardableResult
func openssl(_ arguments: [String], in directory: String) async throws -> String {
    let run = try await runProcess(Tools.which("openssl"), arguments, environment: ["HOME": directory, "RANDFILE": directory + "/.rnd"])
    guard run.status == 0 else { throw CardTestFailure("openssl \(arguments.joined(separator: " ")): \(run.stderr)") }
    return run.stdout
}

/// One line of an `openssl ca` index (what `openssl ocsp -index` answers from).
enum IndexLine {
    case valid(serial: String)
    /// `reason` as openssl writes it: keyCompromise, superseded, or
    /// "certificateHold,holdInstructionReject" for a suspension.
    case revoked(serial: String, reason: String)

    var text: String {
        switch self {
        case .valid(let serial): "V\t491231000000Z\t\t\(serial)\tunknown\t/CN=\(serial)\n"
        case .revoked(let serial, let reason): "R\t491231000000Z\t250101000000Z,\(reason)\t\(serial)\tunknown\t/CN=\(serial)\n"
        }
    }
}

/// The stock `openssl ocsp` responder on a free port (it needs a fixed one: a port found free is
/// passed, and another is tried if it was taken meanwhile). It listens on every interface, which
/// the stock tool does not let us narrow; the tests only reach it on 127.0.0.1.
final class OpenSSLResponder: Sendable {
    let process: ChildProcess
    let port: Int
    var url: URL { URL(string: "http://127.0.0.1:\(port)/")! }

    private init(process: ChildProcess, port: Int) {
        self.process = process
        self.port = port
    }

    /// Answers from `index`, signed by `signer`/`key`, for certificates issued by `ca`.
    static func start(directory: String, lines: [IndexLine], ca: String, signer: String, key: String,
                      nextUpdateMinutes: Int? = 5) async throws -> OpenSSLResponder {
        let index = directory + "/index-\(UUID().uuidString.prefix(8)).txt"
        try lines.map(\.text).joined().write(toFile: index, atomically: true, encoding: .utf8)
        for _ in 0..<10 {
            let port = try freeLoopbackPort()
            let log = directory + "/ocsp-\(port).log"
            let process = ChildProcess(
                executable: Tools.which("openssl"),
                arguments: ["ocsp", "-index", index, "-CA", ca, "-rsigner", signer, "-rkey", key, "-port", "\(port)"]
                    + (nextUpdateMinutes.map { ["-nmin", "\($0)"] } ?? []),
                environment: ["HOME": directory], outputPath: log)
            try process.run()
            // Listening (it says so), or gone: the port was taken meanwhile; try another.
            do {
                try await eventually("openssl ocsp neither listens nor exits") {
                    !process.isRunning || ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("waiting for OCSP client connections")
                }
            } catch {
                process.killAndReapInBackground()
                throw error
            }
            if process.isRunning { return OpenSSLResponder(process: process, port: port) }
        }
        throw CardTestFailure("openssl ocsp could not take a port in 10 tries")
    }

    func stop() { process.killAndReapInBackground() }
}

/// A minimal HTTP responder on 127.0.0.1 that answers every POST with the bytes it is set to
/// serve: a pre-signed stale, mis-signed or other-serial OCSP answer.
final class CannedResponder: Sendable {
    let port: Int
    private let listener: Int32
    private let body = Mutex<[UInt8]>([])
    var url: URL { URL(string: "http://127.0.0.1:\(port)/")! }

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CardTestFailure("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok, listen(fd, 16) == 0 else { close(fd); throw CardTestFailure("bind/listen: errno \(errno)") }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    func serve(_ bytes: [UInt8]) { body.withLock { $0 = bytes } }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }  // closed by stop()
            var request: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            // Headers, then as many body bytes as Content-Length says.
            while true {
                let n = recv(client, &buffer, buffer.count, 0)
                if n <= 0 { break }
                request += buffer[0..<n]
                let text = String(decoding: request, as: UTF8.self)
                guard let end = text.range(of: "\r\n\r\n") else { continue }
                let headerBytes = text[..<end.upperBound].utf8.count
                let length = text[..<end.lowerBound].split(separator: "\r\n")
                    .first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if request.count >= headerBytes + length { break }
            }
            let payload = body.withLock { $0 }
            let reply = Array("HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: \(payload.count)\r\nConnection: close\r\n\r\n".utf8) + payload
            _ = reply.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            close(client)
        }
    }
}

/// Sends each request to whichever responder the test points it at: one verifier (and so one
/// outstanding challenge) meets several responders over real HTTP.
final class SwitchableTransport: OCSPTransport {
    let target: Mutex<URL>
    let http = HTTPOCSPTransport()

    init(_ url: URL) { target = Mutex(url) }

    func point(at url: URL) { target.withLock { $0 = url } }

    func post(_ request: [UInt8], to url: URL, timeout: Duration) async throws -> [UInt8] {
        try await http.post(request, to: target.withLock { $0 }, timeout: timeout)
    }
}
