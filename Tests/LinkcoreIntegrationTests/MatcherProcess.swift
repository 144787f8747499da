import Foundation
import LinkcoreClient
import LinkcoreTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A real `linkcore-matcher serve` child process with its own matcher.toml and notify socket,
/// linked to a core on `corePort` with the MATCHER certificate of `pki`; unprivileged and without
/// capabilities, as its unit runs it (`ServiceAccount`).
final class MatcherProcess: @unchecked Sendable {
    let directory: URL
    let pki: TestPKI
    let notify: NotifySocket
    let process: ChildProcess
    let configPath: String
    let logPath: String
    private(set) var port = 0

    /// `extraConfig` is merged into the generated TOML per table, as for `DaemonProcess`.
    init(pki: TestPKI, directory: URL, corePort: Int, registryPath: String, extraConfig: [String: String] = [:],
         arguments: [String] = [], environment: [String: String] = [:]) throws {
        self.directory = directory
        self.pki = pki
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        notify = try NotifySocket(directory: directory)
        configPath = directory.appendingPathComponent("matcher.toml").path
        logPath = directory.appendingPathComponent("matcher.log").path
        try Self.config(pki: pki, corePort: corePort, registryPath: registryPath, extra: extraConfig)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        var env = ProcessInfo.processInfo.environment
        env["NOTIFY_SOCKET"] = notify.path
        for key in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "JOURNAL_STREAM", "WATCHDOG_USEC", "WATCHDOG_PID", "CREDENTIALS_DIRECTORY"] {
            env.removeValue(forKey: key)
        }
        for (key, value) in environment { env[key] = value }
        process = ChildProcess(executable: Products.path("linkcore-matcher"),
                               arguments: ["serve", "--config", configPath] + arguments, environment: env, outputPath: logPath,
                               serviceDirectory: directory.path)
    }

    static func config(pki: TestPKI, corePort: Int, registryPath: String, extra: [String: String]) -> String {
        tomlTables([
            ("registry", ["path = \"\(registryPath)\""]),
            ("listen", ["addresses = [\"127.0.0.1:0\"]"]),
            ("tls", ["certificate = \"\(pki.path("server.pem"))\"", "private_key = \"\(pki.path("server.key"))\"",
                     "ca_bundle = \"\(pki.path("ca.pem"))\"", "crl = \"\(pki.path("crl.pem"))\"",
                     // Accept to Hello within 60 s, not the production 5 s, as the test daemon
                     // (TestNetwork): on a loaded 2-core machine a handshake took longer and the
                     // matcher closed its test clients' connections unanswered.
                     "handshake_timeout_ms = 60000"]),
            ("core", ["address = \"127.0.0.1:\(corePort)\"", "server_name = \"localhost\"",
                      "client_certificate = \"\(pki.path("MATCHER.pem"))\"", "client_key = \"\(pki.path("MATCHER.key"))\"",
                      "retry_interval_ms = 50"]),
            ("shutdown", ["drain_timeout_ms = 5000"]),
            ("log", ["level = \"debug\""]),
        ], extra: extra)
    }

    /// Starts the matcher and waits for READY=1 (it is linked to the core) and its bound port.
    func start() async throws {
        try process.run()
        do {
            try await notify.wait(for: "READY=1")
        } catch {
            throw TestFailure("linkcore-matcher did not become ready: \(error)\nlog:\n\(log)")
        }
        try await waitForPort()
    }

    /// The port from the "listening on" line, which the matcher logs as soon as it has bound.
    func waitForPort() async throws {
        port = try await waitFor("linkcore-matcher did not report its port:\n\(log)") {
            if let line = log.split(separator: "\n").first(where: { $0.contains("linkcore-matcher listening on") }),
               let port = line.split(separator: ":").last.flatMap({ Int($0.filter(\.isNumber)) }) {
                return port
            }
            guard process.isRunning else { throw TestFailure("linkcore-matcher exited:\n\(log)") }
            return nil
        }
    }

    func connect(as org: String) async throws -> LinkcoreConnection {
        try await LinkcoreConnection.connect(to: .tcp(host: "127.0.0.1", port: port), tls: try pki.clientTLS(org))
    }

    func signal(_ number: Int32) { process.signal(number) }

    func waitForExit(timeout: Duration = defaultWaitTimeout) async throws -> Int32 {
        try await process.exitStatus(timeout: timeout, detail: "log:\n\(log)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    deinit {
        process.killAndReapInBackground()
    }
}

/// TOML tables from (table, lines), with `extra` lines merged per table: a key given in `extra`
/// replaces the generated one; a table only in `extra` is appended.
func tomlTables(_ base: [(String, [String])], extra: [String: String]) -> String {
    var tables = base
    for (table, lines) in extra.sorted(by: { $0.key < $1.key }) {
        if let i = tables.firstIndex(where: { $0.0 == table }) {
            let keys = Set(lines.split(separator: "\n").compactMap { $0.split(separator: "=").first?.trimmingCharacters(in: .whitespaces) })
            tables[i].1.removeAll { keys.contains($0.split(separator: "=").first?.trimmingCharacters(in: .whitespaces) ?? "") }
            tables[i].1.append(lines)
        } else {
            tables.append((table, [lines]))
        }
    }
    return tables.map { "[\($0.0)]\n" + $0.1.joined(separator: "\n") }.joined(separator: "\n\n") + "\n"
}
