import Foundation
import Testing
import LinkcoreTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Issue 12, finding 9: a web page in a browser on the adapter's host can reach its loopback API.
/// Each attack a page can make is made here, with a raw socket, against a real adapter process:
/// no token, a wrong token, a DNS-rebound Host, a text/plain "simple" POST, a flood of
/// connections, a connection held open without sending anything.
@Suite(.serialized) struct AdapterAPIGuardTests {
    /// A real adapter (its core need not be up: the API answers meanwhile) with small limits.
    static func adapter(_ directory: URL, pki: TestPKI, api: String = "max_connections = 3\nidle_timeout_ms = 60000") async throws -> AdapterProcess {
        _ = try pki.issueOrg("CITY01")
        let dataset = directory.appendingPathComponent("answers.sqlite").path
        try await AdapterTests().runAdapterCommand(["dataset", "--db", dataset, "--person", "P-1", "--info", "household", "--answer", "x"])
        return try AdapterProcess(org: "CITY01", pki: pki, directory: directory.appendingPathComponent("adapter"), corePort: 9,
                                  matcherPort: nil, backend: ["kind = \"dataset\"", "dataset = \"\(dataset)\""],
                                  extra: ["api": api])
    }

    @Test func aPageWithoutTheTokenOrWithAForeignHostOrTextPlainIsRefused() async throws {
        let daemon = try DaemonProcess()
        // Each request below opens its own connection and closes it after the answer; the
        // adapter learns of that close a moment later. A cap of 3 (as `connectionsAreCapped`
        // tests) could then refuse the next request with 503, so this test leaves room.
        let adapter = try await Self.adapter(daemon.temp.url, pki: daemon.pki, api: "max_connections = 64\nidle_timeout_ms = 60000")
        try await adapter.start()
        let port = adapter.apiPort
        let tokenPath = adapter.directory.appendingPathComponent("api-token").path
        let mode = try FileManager.default.attributesOfItem(atPath: tokenPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let token = try adapter.token()
        #expect(token.count >= 32)
        let body = #"{"person_id":"P-1","provider_org":"TAX01","bp_id":"BP","info_type":"income"}"#

        func send(_ lines: [String], body: String? = nil) async throws -> RawHTTP.Response {
            var head = lines
            if let body { head.append("Content-Length: \(body.utf8.count)") }
            return try await RawHTTP.exchange(port: port, head.joined(separator: "\r\n") + "\r\n\r\n" + (body ?? ""))
        }
        let host = "Host: 127.0.0.1:\(port)"
        // No token, as from a page's fetch()/form: 401 with a JSON error.
        let none = try await send(["GET /links/P-1 HTTP/1.1", host])
        #expect(none.status == 401 && none.errorCode == "UNAUTHENTICATED", "\(none.text)")
        let wrong = try await send(["GET /access-log/P-1 HTTP/1.1", host, "Authorization: Bearer \(String(token.reversed()))"])
        #expect(wrong.status == 401 && wrong.errorCode == "UNAUTHENTICATED", "\(wrong.text)")
        // DNS rebinding: the page's own name in Host, even with the right token.
        let rebound = try await send(["GET /status HTTP/1.1", "Host: attacker.example:\(port)", "Authorization: Bearer \(token)"])
        #expect(rebound.status == 421 && rebound.errorCode == "MISDIRECTED_REQUEST", "\(rebound.text)")
        let otherPort = try await send(["GET /status HTTP/1.1", "Host: 127.0.0.1:\(port + 1)", "Authorization: Bearer \(token)"])
        #expect(otherPort.status == 421, "\(otherPort.text)")
        // A "simple" cross-origin POST (no preflight) is text/plain: 415.
        let plain = try await send(["POST /ask HTTP/1.1", host, "Authorization: Bearer \(token)", "Content-Type: text/plain"], body: body)
        #expect(plain.status == 415 && plain.errorCode == "UNSUPPORTED_MEDIA_TYPE", "\(plain.text)")
        // The right token, Host and type pass the guard (the route answers: here, no link for P-1).
        let ok = try await send(["GET /links/P-1 HTTP/1.1", "Host: localhost:\(port)", "Authorization: Bearer \(token)"])
        #expect(ok.status == 404 && ok.errorCode == "NOT_FOUND", "\(ok.text)")
        let status = try await send(["GET /status HTTP/1.1", host, "Authorization: bearer \(token)"])
        #expect(status.status == 200, "\(status.text)")
    }

    @Test func connectionsAreCapped() async throws {
        let daemon = try DaemonProcess()
        let adapter = try await Self.adapter(daemon.temp.url, pki: daemon.pki)
        try await adapter.start()
        // Three held connections (idle timeout 60 s) fill max_connections = 3: a fourth is
        // answered 503 TOO_MANY_CONNECTIONS and closed. Each held one is answered once first, so
        // the adapter has surely accepted and counted it (a connect() alone returns as soon as
        // the kernel has the connection, before the adapter accepts it).
        let health = "GET /health HTTP/1.1\r\nHost: 127.0.0.1:\(adapter.apiPort)\r\nAuthorization: Bearer \(try adapter.token())\r\n\r\n"
        var held: [Int32] = []
        for _ in 0..<3 {
            let fd = try RawHTTP.connect(port: adapter.apiPort)
            #expect(try await RawHTTP.exchange(fd: fd, health).status == 200)
            held.append(fd)
        }
        let refused = try await RawHTTP.exchange(port: adapter.apiPort, "GET /health HTTP/1.1\r\nHost: 127.0.0.1:\(adapter.apiPort)\r\n\r\n")
        #expect(refused.status == 503 && refused.errorCode == "TOO_MANY_CONNECTIONS", "\(refused.text)")
        // Closing them frees their slots.
        held.forEach { close($0) }
        var status = 0
        try await eventually("GET /health still answers \(status) after the held connections closed") {
            status = try await adapter.raw("GET", "/health", nil).0
            return status == 200
        }
        #expect(status == 200)
    }

    @Test func anIdleConnectionIsClosed() async throws {
        let daemon = try DaemonProcess()
        let adapter = try await Self.adapter(daemon.temp.url, pki: daemon.pki, api: "idle_timeout_ms = 300")
        try await adapter.start()
        // A connection that sends nothing, and one that sent a request and then nothing: both
        // are closed by the adapter (EOF), well before 20 s.
        let silent = try RawHTTP.connect(port: adapter.apiPort)
        defer { close(silent) }
        #expect(try await RawHTTP.readToEOF(silent, timeoutSeconds: 20) != nil, "an idle connection stayed open")
        let used = try RawHTTP.connect(port: adapter.apiPort)
        defer { close(used) }
        let request = Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1:\(adapter.apiPort)\r\nAuthorization: Bearer \(try adapter.token())\r\n\r\n".utf8)
        #expect(request.withUnsafeBytes { send(used, $0.baseAddress, $0.count, 0) } == request.count)
        let rest = try await RawHTTP.readToEOF(used, timeoutSeconds: 20)
        #expect(rest.map { String(decoding: $0, as: UTF8.self).hasPrefix("HTTP/1.1 200") } == true, "\(rest.map { String(decoding: $0, as: UTF8.self) } ?? "stayed open")")
    }
}

extension AdapterAPIGuardTests {
    /// SIGTERM: the adapter stops accepting, closes a keep-alive connection that has no request
    /// in progress (its idle timeout, 60 s here, is not waited for), and exits 0.
    @Test func sigtermClosesIdleConnectionsAndExitsCleanly() async throws {
        let daemon = try DaemonProcess()
        let adapter = try await Self.adapter(daemon.temp.url, pki: daemon.pki)
        try await adapter.start()
        let fd = try RawHTTP.connect(port: adapter.apiPort)
        defer { close(fd) }
        let health = "GET /health HTTP/1.1\r\nHost: 127.0.0.1:\(adapter.apiPort)\r\nAuthorization: Bearer \(try adapter.token())\r\n\r\n"
        #expect(try await RawHTTP.exchange(fd: fd, health).status == 200)
        adapter.process.signal(SIGTERM)
        #expect(try await RawHTTP.readToEOF(fd, timeoutSeconds: 30) != nil, "the idle connection stayed open")
        #expect(await adapter.process.waitForExit(timeout: .seconds(30)), "the adapter did not exit")
        #expect(adapter.process.terminationStatus == 0, "\(adapter.log)")
        #expect(adapter.log.contains("stopping: draining the local API"), "\(adapter.log)")
    }

    /// Every failure past the guard is the same JSON error body: an unknown path, a known path
    /// with another method, a body that is not JSON, a body above `[api] max_body_bytes` (told by
    /// its Content-Length, or only by counting its chunks).
    @Test func everyFailureIsAJSONErrorBody() async throws {
        let daemon = try DaemonProcess()
        let adapter = try await Self.adapter(daemon.temp.url, pki: daemon.pki, api: "max_body_bytes = 1024")
        try await adapter.start()
        let port = adapter.apiPort
        let head = "Host: 127.0.0.1:\(port)\r\nAuthorization: Bearer \(try adapter.token())"
        func send(_ line: String, _ extra: String = "", body: String = "") async throws -> RawHTTP.Response {
            try await RawHTTP.exchange(port: port, "\(line) HTTP/1.1\r\n\(head)\r\n\(extra)\r\n\(body)")
        }
        let missing = try await send("GET /nothing-here")
        #expect(missing.status == 404 && missing.errorCode == "NO_SUCH_ROUTE", "\(missing.text)")
        let method = try await send("DELETE /events")
        #expect(method.status == 405 && method.errorCode == "METHOD_NOT_ALLOWED", "\(method.text)")
        let notJSON = try await send("POST /events/ack", "Content-Type: application/json\r\nContent-Length: 5\r\n", body: "{bad}")
        #expect(notJSON.status == 400 && notJSON.errorCode == "INVALID_ARGUMENT", "\(notJSON.text)")
        let big = String(repeating: "x", count: 2048)
        let declared = try await send("POST /ask", "Content-Type: application/json\r\nContent-Length: \(big.utf8.count)\r\n", body: big)
        #expect(declared.status == 413 && declared.errorCode == "PAYLOAD_TOO_LARGE", "\(declared.text)")
        let chunk = String(big.utf8.count, radix: 16)
        let chunked = try await send("POST /ask", "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
                                     body: "\(chunk)\r\n\(big)\r\n0\r\n\r\n")
        #expect(chunked.status == 413 && chunked.errorCode == "PAYLOAD_TOO_LARGE", "\(chunked.text)")
    }

    /// `[api] request_timeout_ms`: an /ask that waits for a core that is not there (its own
    /// budget is a minute) is answered 503 REQUEST_TIMEOUT with the JSON error body.
    @Test func aRequestPastTheRequestTimeoutGets503() async throws {
        let daemon = try DaemonProcess()
        let adapter = try await Self.adapter(daemon.temp.url, pki: daemon.pki, api: "request_timeout_ms = 1000")
        try await adapter.start()
        // A link for P-1, so that the ask goes past the link table to the (absent) core.
        let database = adapter.directory.appendingPathComponent("adapter.sqlite").path
        let (status, output) = try await runToExit("/usr/bin/sqlite3", [
            database, "INSERT INTO links (link_code, person_id, key_index, linked_at_ms) VALUES ('LC-1', 'P-1', 1, 0)",
        ], outputDirectory: daemon.temp.url)
        #expect(status == 0, "\(output)")
        let (code, body) = try await adapter.call("POST", "/ask", [
            "person_id": "P-1", "bp_id": "BP", "provider_org": "TAX01", "info_type": "income", "deadline_ms": 60_000,
        ])
        #expect(code == 503 && (body["error"] as? [String: Any])?["code"] as? String == "REQUEST_TIMEOUT", "\(body)")
    }
}

/// A blocking HTTP/1.1 exchange over a raw socket: what a test needs to send any Host header.
enum RawHTTP {
    struct Response {
        var text: String
        var status: Int { Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0 }
        var errorCode: String? {
            guard let start = text.range(of: "\r\n\r\n"),
                  let object = try? JSONSerialization.jsonObject(with: Data(text[start.upperBound...].utf8)) as? [String: Any]
            else { return nil }
            return (object["error"] as? [String: Any])?["code"] as? String
        }
    }

    static func connect(port: Int) throws -> Int32 { try loopbackConnect(port: port) }

    /// Sends `request` on a new connection, then reads the one response (the server closes
    /// after a refusal; otherwise up to Content-Length).
    static func exchange(port: Int, _ request: String) async throws -> Response {
        let fd = try connect(port: port)
        defer { close(fd) }
        return try await exchange(fd: fd, request)
    }

    /// Sends `request` on the open connection `fd` and reads its one response.
    /// The blocking reads run off the cooperative pool (see `offPool`).
    static func exchange(fd: Int32, _ request: String) async throws -> Response {
        try await offPool { try blockingExchange(fd: fd, request) }
    }

    private static func blockingExchange(fd: Int32, _ request: String) throws -> Response {
        let bytes = Array(request.utf8)
        guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else { throw TestFailure("send failed") }
        var received: [UInt8] = []
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            received += chunk[0..<n]
            let text = String(decoding: received, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let length = text[..<end.lowerBound].split(separator: "\r\n")
                    .first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if text[end.upperBound...].utf8.count >= length { break }
            }
        }
        return Response(text: String(decoding: received, as: UTF8.self))
    }

    /// Reads until the peer closes; nil when it did not within the timeout.
    static func readToEOF(_ fd: Int32, timeoutSeconds: Int) async throws -> [UInt8]? {
        try await offPool { blockingReadToEOF(fd, timeoutSeconds: timeoutSeconds) }
    }

    private static func blockingReadToEOF(_ fd: Int32, timeoutSeconds: Int) -> [UInt8]? {
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var all: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n == 0 { return all }
            if n < 0 { return nil }
            all += chunk[0..<n]
        }
    }
}
