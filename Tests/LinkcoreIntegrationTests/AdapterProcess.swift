import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LinkcoreTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A real `linkcore-adapter run` child process with its own adapter.toml, SQLite files and
/// local API on an ephemeral port, and a small JSON client for that API. Unprivileged and without
/// capabilities, as its unit runs it (`ServiceAccount`).
final class AdapterProcess: @unchecked Sendable {
    let org: String
    let directory: URL
    let configPath: String
    let logPath: String
    private(set) var process: ChildProcess
    private(set) var apiPort = 0

    /// `backend` is the [backend] table's lines; `matcherPort` nil leaves [matcher] out.
    init(org: String, pki: TestPKI, directory: URL, corePort: Int, matcherPort: Int?, backend: [String],
         extra: [String: String] = [:]) throws {
        self.org = org
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        configPath = directory.appendingPathComponent("adapter.toml").path
        logPath = directory.appendingPathComponent("adapter.log").path
        var tables: [(String, [String])] = [
            ("adapter", ["org_code = \"\(org)\"", "database = \"\(directory.appendingPathComponent("adapter.sqlite").path)\""]),
            ("core", ["address = \"127.0.0.1:\(corePort)\"", "server_name = \"localhost\"",
                      "certificate = \"\(pki.path("\(org).pem"))\"", "private_key = \"\(pki.path("\(org).key"))\"",
                      "ca_bundle = \"\(pki.path("ca.pem"))\"", "reconnect_initial_ms = 50", "reconnect_max_ms = 400"]),
        ]
        if let matcherPort {
            tables.append(("matcher", ["address = \"127.0.0.1:\(matcherPort)\"", "server_name = \"localhost\""]))
        }
        tables += [("api", ["listen = \"127.0.0.1:0\""]), ("backend", backend), ("log", ["level = \"debug\""])]
        try tomlTables(tables, extra: extra).write(toFile: configPath, atomically: true, encoding: .utf8)
        process = Self.makeProcess(configPath: configPath, logPath: logPath, directory: directory)
    }

    static func makeProcess(configPath: String, logPath: String, directory: URL) -> ChildProcess {
        var env = ProcessInfo.processInfo.environment
        for key in ["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "JOURNAL_STREAM", "WATCHDOG_USEC", "CREDENTIALS_DIRECTORY"] {
            env.removeValue(forKey: key)
        }
        return ChildProcess(executable: Products.path("linkcore-adapter"), arguments: ["run", "--config", configPath],
                            environment: env, outputPath: logPath, serviceDirectory: directory.path)
    }

    /// Starts the adapter and waits for its API port ("api 127.0.0.1:PORT" on standard output).
    func start() async throws {
        // The log is appended to across restarts: wait for this run's line.
        let seen = apiLines.count
        try process.run()
        apiPort = try await waitFor("adapter \(org) did not report its API port:\n\(log)") {
            let lines = apiLines
            if lines.count > seen, let port = Int(lines[lines.count - 1].split(separator: ":").last ?? "") { return port }
            guard process.isRunning else { throw TestFailure("adapter \(org) exited:\n\(log)") }
            return nil
        }
    }

    /// Starts the adapter again on the same configuration and files (after it exited or was killed).
    func restart() async throws {
        process = Self.makeProcess(configPath: configPath, logPath: logPath, directory: directory)
        try await start()
    }

    /// Waits until GET /status says the adapter is connected to the core (at least `connects` times).
    func waitConnected(connects: Int = 1) async throws {
        try await eventually("adapter \(org) did not connect to the core:\n\(log)") {
            let (_, status) = try await call("GET", "/status")
            return status["core_connected"] as? Bool == true && (status["core_connects"] as? Int ?? 0) >= connects
        }
    }

    /// The local API's bearer token: the file the adapter created beside its database at first start.
    func token() throws -> String {
        try String(contentsOfFile: directory.appendingPathComponent("api-token").path, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private var apiLines: [Substring] { log.split(separator: "\n").filter { $0.hasPrefix("api 127.0.0.1:") } }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// One API call; returns the HTTP status and the JSON object of the body.
    func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> (Int, [String: Any]) {
        let (status, data) = try await raw(method, path, body.map { try JSONSerialization.data(withJSONObject: $0) })
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return (status, object)
    }

    func raw(_ method: String, _ path: String, _ body: Data?) async throws -> (Int, Data) {
        guard let url = URL(string: "http://127.0.0.1:\(apiPort)\(path)") else { throw TestFailure("bad path \(path)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 30
        if body != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        request.setValue("Bearer \(try token())", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    deinit {
        process.killAndReapInBackground()
    }
}

/// A TCP listener that accepts connections and never answers: a webhook that hangs.
final class SilentListener: @unchecked Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard bound, listen(fd, 16) == 0 else { throw TestFailure("cannot listen") }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: actual.sin_port))
    }

    deinit { close(fd) }
}

/// A minimal HTTP/1.1 server standing in for an organisation's system behind a webhook backend:
/// it answers each POST with `{"answer": "insured:<person_id>"}`, or refuses with
/// `{"refused": "NOT_INSURED"}` when the information type is "refuse". One connection at a time,
/// `Connection: close`; enough for the adapter's URLSession.
final class TinyWebhook: @unchecked Sendable {
    let fd: Int32
    let port: Int
    private(set) var requests: [String] = []
    private let lock = NSLock()

    init() throws {
        let listener = try SilentListener()
        fd = dup(listener.fd)
        port = listener.port
        let fd = self.fd
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                var data = [UInt8]()
                var buffer = [UInt8](repeating: 0, count: 4096)
                // Read the head, then Content-Length bytes of body.
                while true {
                    let n = read(client, &buffer, buffer.count)
                    guard n > 0 else { break }
                    data += buffer[0..<n]
                    let text = String(decoding: data, as: UTF8.self)
                    if let split = text.range(of: "\r\n\r\n") {
                        let head = text[..<split.lowerBound].lowercased()
                        let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                        if text[split.upperBound...].utf8.count >= length { break }
                    }
                }
                let text = String(decoding: data, as: UTF8.self)
                let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
                lock.withLock { requests.append(body) }
                let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
                let reply = object["info_type"] as? String == "refuse"
                    ? #"{"refused": "NOT_INSURED"}"# : #"{"answer": "insured:\#(object["person_id"] as? String ?? "?")"}"#
                let response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(reply.utf8.count)\r\nConnection: close\r\n\r\n\(reply)"
                _ = response.withCString { write(client, $0, strlen($0)) }
                close(client)
            }
        }
    }

    var received: [String] { lock.withLock { requests } }

    deinit { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}
