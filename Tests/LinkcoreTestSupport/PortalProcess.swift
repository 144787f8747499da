import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real `linkcore-portal run` child process on a loopback port 0, with its own config, HTTPS
/// certificate (from the given PKI's CA), SQLite file and log; and curl, with that CA as the
/// only trust anchor, as the independent HTTPS client. Used by LinkcorePortalTests and by the
/// integration test that connects it to a real linkcored.
public final class PortalProcess: @unchecked Sendable {
    public let directory: URL
    public let pki: TestPKI
    public let configPath: String
    public let logPath: String
    public let databasePath: String
    public let process: ChildProcess
    public private(set) var port = 0

    /// `core`: host:port of a core (nothing listening there is fine: the portal reconnects);
    /// `coreIdentity`: the org certificate name in `pki` (`issueOrg`) the portal presents.
    /// `extra` is appended per table, e.g. ["session": "idle_timeout_ms = 2000"]; a table the base
    /// config lacks is added.
    /// `listen`: a fixed port when the test must know it before the start (an OIDC issuer);
    /// `moreTables`: whole tables appended to the file (e.g. `[oidc]` with its `[[oidc.client]]`s).
    public init(pki: TestPKI, directory: URL, core: String = "127.0.0.1:1", coreIdentity: String = "PORTAL",
                extra: [String: String] = [:], listen: String = "127.0.0.1:0", moreTables: String = "") throws {
        self.pki = pki
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: pki.path("\(coreIdentity).pem")) { try pki.issueOrg(coreIdentity) }
        try pki.issueServer(name: "portal-https")
        configPath = directory.appendingPathComponent("portal.toml").path
        logPath = directory.appendingPathComponent("portal.log").path
        databasePath = directory.appendingPathComponent("portal.sqlite").path
        var tables: [(String, [String])] = [
            ("portal", ["org_code = \"PORTAL\"", "database = \"\(databasePath)\""]),
            ("https", ["listen = \"\(listen)\"", "certificate = \"\(pki.path("portal-https.pem"))\"",
                       "private_key = \"\(pki.path("portal-https.key"))\""]),
            ("session", []),
            ("core", ["address = \"\(core)\"", "server_name = \"localhost\"", "certificate = \"\(pki.path("\(coreIdentity).pem"))\"",
                      "private_key = \"\(pki.path("\(coreIdentity).key"))\"", "ca_bundle = \"\(pki.caPath)\"",
                      "reconnect_initial_ms = 50", "reconnect_max_ms = 500"]),
            ("log", ["level = \"debug\""]),
        ]
        for i in tables.indices { if let more = extra[tables[i].0] { tables[i].1.append(more) } }
        // Tables the fixture does not write itself (e.g. [folder], the card login's [card] and [matcher]).
        for (name, lines) in extra.sorted(by: { $0.key < $1.key }) where !tables.contains(where: { $0.0 == name }) {
            tables.append((name, [lines]))
        }
        let text = tables.map { name, lines in "[\(name)]\n" + lines.joined(separator: "\n") }.joined(separator: "\n\n") + "\n"
            + (moreTables.isEmpty ? "" : "\n" + moreTables + "\n")
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        for key in ["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "JOURNAL_STREAM", "WATCHDOG_USEC", "WATCHDOG_PID",
                    "CREDENTIALS_DIRECTORY"] { environment.removeValue(forKey: key) }
        process = ChildProcess(executable: Self.productPath("linkcore-portal"), arguments: ["run", "--config", configPath],
                               environment: environment, outputPath: logPath)
    }

    public static func productPath(_ name: String) -> String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent(name).path
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    public var url: String { "https://localhost:\(port)" }

    /// Starts the portal and waits for its "portal https://127.0.0.1:PORT" line.
    public func start() async throws {
        try process.run()
        port = try await waitFor("linkcore-portal did not print its URL\n\(log)") { () -> Int? in
            guard process.isRunning || log.contains("portal https://") else { throw TestFailure("linkcore-portal exited\n\(log)") }
            guard let line = log.split(separator: "\n").first(where: { $0.hasPrefix("portal https://127.0.0.1:") }) else { return nil }
            return Int(line.split(separator: ":").last ?? "")
        }
    }

    public func stop() { process.killAndReapInBackground() }

    deinit { process.killAndReapInBackground() }

    /// One HTTP answer as curl saw it: status, every header (names lower-cased, in order), body.
    public struct Answer: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: String
        public func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }
        public func all(_ name: String) -> [String] { headers.filter { $0.name == name }.map(\.value) }
        /// The value a Set-Cookie gives `name` ("" when it clears it), or nil when none does.
        public func cookie(_ name: String) -> String? {
            all("set-cookie").compactMap { line -> String? in
                guard line.hasPrefix(name + "=") else { return nil }
                return String(line.dropFirst(name.count + 1).prefix { $0 != ";" })
            }.first
        }
    }

    /// curl against the portal (https://localhost:PORT), verifying its certificate with the CA only.
    public func curl(_ path: String, method: String = "GET", headers: [String] = [], cookies: [String: String] = [:],
                     form: String? = nil) async throws -> Answer {
        var arguments = ["-s", "-S", "-i", "--cacert", pki.caPath, "-X", method, url + path]
        for header in headers { arguments += ["-H", header] }
        if !cookies.isEmpty { arguments += ["-H", "Cookie: " + cookies.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "; ")] }
        if let form { arguments += ["-H", "Content-Type: application/x-www-form-urlencoded", "--data-binary", form] }
        let run = try await runToExit("/usr/bin/curl", arguments, outputDirectory: directory)
        guard run.status == 0, let split = run.output.range(of: "\r\n\r\n") else {
            throw TestFailure("curl \(method) \(path): status \(run.status)\n\(run.output)")
        }
        let lines = run.output[..<split.lowerBound].split(separator: "\r\n")
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        let fields = lines.dropFirst().compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return Answer(status: status, headers: fields, body: String(run.output[split.upperBound...]))
    }
}
