import Foundation
import LinkcoreJPKI
import LinkcoreTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `linkcore-jpki ocsp-signer` and `ocsp-serve` as real processes, with the card authority's
/// store (DIR/authority.db) as the source of status, asked by the stock `openssl ocsp` client
/// over HTTP and by curl for the GET form and refusals.
@Suite("OCSP responder service (linkcore-jpki ocsp-serve)")
struct OCSPServeTests {
    static let jpki = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent("linkcore-jpki").path

    /// An authority directory made by `linkcore-jpki ca-init` and `ocsp-signer`, three cards in the
    /// store (good, revoked, suspended) and a certificate the store never recorded.
    struct Authority {
        let fixture: OCSPFixture
        let store: CardAuthorityStore
        var dir: String { fixture.path }

        init() async throws {
            let directory = try TempDirectory()
            for command in [["ca-init"], ["ocsp-signer", "--valid-days", "7"]] {
                let made = try await runToExit(OCSPServeTests.jpki, command + ["--dir", directory.path], outputDirectory: directory.url)
                guard made.status == 0 else { throw TestFailure("linkcore-jpki \(command): \(made.output)") }
            }
            fixture = try OCSPFixture(directory: directory)
            store = try CardAuthorityStore(path: directory.path + "/authority.db")
            for card in ["GOOD", "REVOKED", "HELD"] {
                try store.apply(card: card, residentCode: "0000000000\(card.count)")
                try store.personalise(card: card, signatureSerial: try fixture.leaf(card.lowercased()).serialHex,
                                      userSerial: try fixture.leaf(card.lowercased() + "-user").serialHex)
            }
            for event in [CardEvent.send, .activate, .suspend] { try store.transition(card: "HELD", event) }
            _ = try fixture.leaf("unrecorded")
        }
    }

    /// A running `ocsp-serve` on a port of its choosing, with a notify socket as systemd's.
    final class Responder: @unchecked Sendable {
        let process: ChildProcess
        let notify: NotifyReceiver
        let logPath: String
        private(set) var port = 0

        init(_ authority: Authority, extra: [String] = []) async throws {
            logPath = authority.dir + "/ocsp-serve.log"
            notify = try NotifyReceiver(path: authority.dir + "/notify.sock")
            var environment = ProcessInfo.processInfo.environment
            environment["NOTIFY_SOCKET"] = notify.path
            for key in ["LISTEN_FDS", "LISTEN_PID", "JOURNAL_STREAM", "WATCHDOG_USEC", "WATCHDOG_PID"] { environment.removeValue(forKey: key) }
            process = ChildProcess(executable: OCSPServeTests.jpki,
                                   arguments: ["ocsp-serve", "--dir", authority.dir, "--listen", "127.0.0.1:0"] + extra,
                                   environment: environment, outputPath: logPath)
            try process.run()
            port = try await waitFor("ocsp-serve did not report its port:\n\(log)") {
                if let line = log.split(separator: "\n").first(where: { $0.hasPrefix("ocsp 127.0.0.1:") }) {
                    return Int(line.split(separator: ":").last ?? "")
                }
                guard process.isRunning else { throw TestFailure("ocsp-serve exited:\n\(log)") }
                return nil
            }
        }

        var url: String { "http://127.0.0.1:\(port)/" }
        var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
        deinit { process.killAndReapInBackground() }
    }

    /// `openssl ocsp` against the running responder for `<name>.pem`.
    func ask(_ authority: Authority, _ responder: Responder, _ name: String, _ extra: [String] = []) async throws -> String {
        try await authority.fixture.openssl(["ocsp", "-issuer", authority.dir + "/ca.pem", "-cert", authority.dir + "/\(name).pem",
                                             "-url", responder.url, "-CAfile", authority.dir + "/ca.pem", "-resp_text"] + extra).output
    }

    @Test func theStockClientGetsSignedAnswersFromTheStoreWithNonceAndNextUpdate() async throws {
        let authority = try await Authority()
        let responder = try await Responder(authority)
        try await responder.notify.wait(for: "READY=1")
        let path = authority.dir

        let good = try await ask(authority, responder, "good")
        #expect(good.contains("\(path)/good.pem: good\n"), "\(good)")
        // Verified through the delegated signer (in the response) against the card CA alone,
        // and the request's nonce came back (openssl warns "no nonce in response" otherwise).
        #expect(good.contains("Response verify OK"), "\(good)")
        #expect(good.contains("OCSP Nonce"), "\(good)")
        #expect(!good.contains("WARNING"), "\(good)")
        #expect(!good.contains("Nonce Verify error"), "\(good)")
        let thisUpdate = try #require(opensslDate(after: "This Update:", in: good))
        #expect(opensslDate(after: "Next Update:", in: good) == thisUpdate.addingTimeInterval(600), "\(good)")

        let noNonce = try await ask(authority, responder, "good", ["-no_nonce"])
        #expect(noNonce.contains("\(path)/good.pem: good\n") && noNonce.contains("Response verify OK"), "\(noNonce)")
        #expect(!noNonce.contains("OCSP Nonce"), "\(noNonce)")

        let held = try await ask(authority, responder, "held")
        #expect(held.contains("\(path)/held.pem: revoked\n") && held.contains("Reason: certificateHold"), "\(held)")
        let unrecorded = try await ask(authority, responder, "unrecorded")
        #expect(unrecorded.contains("\(path)/unrecorded.pem: unknown\n") && unrecorded.contains("Response verify OK"), "\(unrecorded)")

        // A revocation committed to the store while the responder runs is the next answer.
        let before = try await ask(authority, responder, "revoked")
        #expect(before.contains("\(path)/revoked.pem: good\n"), "\(before)")
        try authority.store.transition(card: "REVOKED", .revoke)
        let after = try await ask(authority, responder, "revoked")
        #expect(after.contains("\(path)/revoked.pem: revoked\n") && after.contains("Reason: cessationOfOperation"), "\(after)")
        #expect(after.contains("Response verify OK"), "\(after)")
        // Both of the card's certificates.
        let user = try await ask(authority, responder, "revoked-user")
        #expect(user.contains("\(path)/revoked-user.pem: revoked\n"), "\(user)")

        // SIGTERM: STOPPING=1, then a clean exit.
        responder.process.signal(SIGTERM)
        try await responder.notify.wait(for: "STOPPING=1")
        #expect(try await responder.process.exitStatus(detail: responder.log) == 0)
    }

    @Test func theSignerIsADelegationWithNoCheckAndAPrivateKey() async throws {
        let authority = try await Authority()
        let text = try await authority.fixture.openssl(["x509", "-in", authority.dir + "/ocsp-signer.pem", "-noout", "-text"]).output
        #expect(text.contains("OCSP Signing"), "\(text)")
        #expect(text.contains("OCSP No Check"), "\(text)")
        let verified = try await authority.fixture.openssl([
            "verify", "-CAfile", authority.dir + "/ca.pem", "-purpose", "ocsphelper", authority.dir + "/ocsp-signer.pem",
        ]).output
        #expect(verified.contains(": OK"), "\(verified)")
        let mode = try FileManager.default.attributesOfItem(atPath: authority.dir + "/ocsp-signer.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // --valid-days 7: a short delegation.
        let dates = try await authority.fixture.openssl(["x509", "-in", authority.dir + "/ocsp-signer.pem", "-noout", "-startdate", "-enddate"])
        let lines = dates.output.split(separator: "\n").map(String.init)
        let start = try #require(opensslDate(after: "notBefore=", in: lines.first ?? ""))
        let end = try #require(opensslDate(after: "notAfter=", in: lines.last ?? ""))
        #expect(end == start.addingTimeInterval(7 * 86_400))
    }

    @Test func getFormIsCacheableUntilNextUpdateAndBadInputGetsOCSPErrorsNotACrash() async throws {
        let authority = try await Authority()
        let responder = try await Responder(authority, extra: ["--next-update", "300"])
        let path = authority.dir
        let request = try await authority.fixture.request(for: ["good"], nonce: false)
        // RFC 6960 appendix A: GET {url}/{url-encoding of base64 of the DER request}.
        let encoded = Data(request).base64EncodedString()
            .replacingOccurrences(of: "+", with: "%2B").replacingOccurrences(of: "/", with: "%2F").replacingOccurrences(of: "=", with: "%3D")
        let got = try await curl(path, [responder.url + encoded])
        #expect(got.headers.contains("HTTP/1.1 200"), "\(got.headers)")
        #expect(got.headers.lowercased().contains("content-type: application/ocsp-response"), "\(got.headers)")
        let maxAge = try #require(Self.maxAge(got.headers))
        #expect(maxAge > 0 && maxAge <= 300, "\(got.headers)")
        let text = try await authority.fixture.check(got.body, for: "good")
        #expect(text.contains("\(path)/good.pem: good\n") && text.contains("Response verify OK"), "\(text)")

        // Garbage, in either form, is an OCSP malformedRequest (HTTP 200, uncacheable).
        let garbage = try await curl(path, ["-H", "Content-Type: application/ocsp-request", "--data-binary", "not an OCSP request",
                                            responder.url])
        #expect(garbage.body == [0x30, 0x03, 0x0A, 0x01, 0x01], "\(garbage.headers)")
        #expect(try await authority.fixture.check(garbage.body, for: "good").contains("Responder Error: malformedrequest (1)"))
        let badGet = try await curl(path, [responder.url + "%%%not-base64"])
        #expect(badGet.body == [0x30, 0x03, 0x0A, 0x01, 0x01] && badGet.headers.lowercased().contains("cache-control: no-store"),
                "\(badGet.headers)")
        // HTTP refusals before any parsing: content type, size, method.
        let wrongType = try await curl(path, ["-H", "Content-Type: text/plain", "--data-binary", "x", responder.url])
        #expect(wrongType.headers.contains("HTTP/1.1 415"), "\(wrongType.headers)")
        try authority.fixture.directory.write("big.bin", String(repeating: "A", count: 10_000))
        // Refused on its Content-Length, unread: the connection closes, which may reset it under
        // the rest of the body before curl reads the 413; either way nothing is parsed or answered.
        let big = try await curl(path, ["-H", "Content-Type: application/ocsp-request", "--data-binary", "@" + path + "/big.bin",
                                        responder.url], mayFail: true)
        #expect(big.headers.contains("HTTP/1.1 413") || (big.headers.isEmpty && big.body.isEmpty), "\(big.headers)")
        let put = try await curl(path, ["-X", "PUT", responder.url])
        #expect(put.headers.contains("HTTP/1.1 405"), "\(put.headers)")
        // Still answering after all that.
        let again = try await ask(authority, responder, "good")
        #expect(again.contains("\(path)/good.pem: good\n"), "\(again)")
        #expect(responder.process.isRunning)
    }

    @Test func keptAliveConnectionsAreReusedAndAnIdleOneDoesNotHoldUpTheStop() async throws {
        let authority = try await Authority()
        let responder = try await Responder(authority)
        try await responder.notify.wait(for: "READY=1")
        let request = try await authority.fixture.request(for: ["good"], nonce: false)
        try Data(request).write(to: URL(fileURLWithPath: authority.dir + "/request.der"))

        // Two POSTs in one curl run: the second goes over the first one's connection.
        let both = try await runToExit("/usr/bin/curl", [
            "-sS", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n",
            "-H", "Content-Type: application/ocsp-request", "--data-binary", "@" + authority.dir + "/request.der",
            responder.url, responder.url,
        ], outputDirectory: authority.fixture.directory.url)
        #expect(both.status == 0 && both.output.contains("200 1\n200 0\n"), "\(both.output)")

        // A client that keeps its connection open after an answer, idle when SIGTERM comes: the
        // responder closes it (NIOHTTP1 quiescing) and exits 0.
        let socket = try KeptAliveSocket(port: responder.port)
        let answer = try socket.post(request, port: responder.port)
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        #expect(!answer.lowercased().contains("connection: close"), "\(answer)")
        responder.process.signal(SIGTERM)
        try await responder.notify.wait(for: "STOPPING=1")
        #expect(try await responder.process.exitStatus(detail: responder.log) == 0)
        #expect(socket.readsEndOfStream(), "the idle connection was left open")
    }

    static func maxAge(_ headers: String) -> Int? {
        guard let line = headers.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("cache-control:") }),
              let range = line.range(of: "max-age=") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    /// curl with the response headers and body in files (the body as bytes).
    func curl(_ dir: String, _ arguments: [String], mayFail: Bool = false) async throws -> (headers: String, body: [UInt8]) {
        let id = UUID().uuidString.prefix(6)
        let headers = dir + "/curl-\(id).headers", body = dir + "/curl-\(id).body"
        let ran = try await runToExit("/usr/bin/curl", ["-sS", "-D", headers, "-o", body] + arguments,
                                      outputDirectory: URL(fileURLWithPath: dir))
        guard ran.status == 0 || mayFail else { throw TestFailure("curl \(arguments): \(ran.output)") }
        return ((try? String(contentsOfFile: headers, encoding: .utf8)) ?? "",
                Array((try? Data(contentsOf: URL(fileURLWithPath: body))) ?? Data()))
    }
}

/// An AF_UNIX datagram socket given to the child as NOTIFY_SOCKET, as systemd does; collects
/// every datagram on a thread of its own.
final class NotifyReceiver: @unchecked Sendable {
    let path: String
    private let lock = NSLock()
    private var received: [String] = []

    init(path: String) throws {
        self.path = path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8.prefix($0.count - 1))) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { close(fd); throw TestFailure("bind \(path): errno \(errno)") }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        Thread.detachNewThread { [weak self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while self != nil {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n > 0, let self { self.lock.withLock { self.received.append(String(decoding: buffer[..<n], as: UTF8.self)) } }
            }
            close(fd)
        }
    }

    func wait(for line: String) async throws {
        _ = try await waitFor("no \(line) on NOTIFY_SOCKET; got \(lock.withLock { received })") {
            lock.withLock { received }.contains { $0.split(separator: "\n").contains(Substring(line)) } ? true : nil
        }
    }
}

/// A plain TCP connection to the responder that asks for keep-alive (blocking, with a generous
/// receive timeout so that a responder that never answers fails the test instead of hanging it).
final class KeptAliveSocket {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { close(fd); throw TestFailure("connect: errno \(errno)") }
    }

    deinit { close(fd) }

    /// One POST; returns the answer's head once the whole answer (by its Content-Length) is in.
    func post(_ body: [UInt8], port: Int) throws -> String {
        let head = "POST / HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: application/ocsp-request\r\n"
            + "Content-Length: \(body.count)\r\n\r\n"
        let message = Array(head.utf8) + body
        guard message.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == message.count else {
            throw TestFailure("send: errno \(errno)")
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw TestFailure("the connection ended before the answer: \(String(decoding: received, as: UTF8.self))") }
            received += buffer[0..<n]
            let text = String(decoding: received, as: UTF8.self)
            guard let end = text.range(of: "\r\n\r\n") else { continue }
            let head = String(text[..<end.lowerBound])
            let length = head.lowercased().split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            if received.count >= text.utf8.distance(from: text.startIndex, to: end.upperBound) + length { return head }
        }
    }

    /// True when the server closed the connection (end of stream, or reset) with nothing more to read.
    func readsEndOfStream() -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) <= 0 && errno != EAGAIN && errno != EWOULDBLOCK
    }
}
