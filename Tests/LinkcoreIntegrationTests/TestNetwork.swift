import Foundation
import LinkcoreClient
// The shared test support (PKI fixture, temporary directories, waits, child processes) for every
// file of this target, without an import line in each.
@_exported import LinkcoreTestSupport
import LinkcorePKI
import LinkcoreTLS
import LinkcoreWire
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Where the package's executables were built (next to the test bundle).
enum Products {
    static let directory: URL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    /// The package's checkout, for the shipped sample files under `etc/` and the C SDK.
    static let sourceRoot: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../..").standardized.path
    /// The shipped sample tables (`etc/linkcore/<name>`).
    static func sample(_ name: String) -> String { sourceRoot + "/etc/linkcore/" + name }

    /// `[policy]` entries loading the shipped modules (built beside the tests), each with its table.
    /// `deadlineMs` is generous on purpose: on a busy 2-core machine a module's worker thread can
    /// wait longer than the 50 ms production default for a core, and the tests that use this are
    /// about what modules decide, not about the deadline (PolicyWarmUpTests and the host tests are).
    static func policyModules(_ modules: [(kind: String, config: String)], deadlineMs: Int = 2000) -> String {
        "decision_deadline_ms = \(deadlineMs)\n\n" + modules.map { kind, config in
            "[[policy.module]]\nkind = \"\(kind)\"\npath = \"\(path("liblinkcore-policy-\(kind).so"))\"\nconfig = \"\(config)\""
        }.joined(separator: "\n\n")
    }
}

/// A real linkcored child process on loopback with its own config, PKI, state and notify socket,
/// run as the unit runs it: unprivileged and without capabilities (`ServiceAccount`).
final class DaemonProcess: @unchecked Sendable {
    let temp: TempDirectory
    let pki: TestPKI
    let notify: NotifySocket
    private(set) var process: ChildProcess
    let configPath: String
    let logPath: String
    private(set) var port = 0
    private var registrations: [LCOrganisation] = []
    /// The port systemd-socket-activate listens on, when the daemon runs under it.
    var activationPort: Int?

    /// The PostgreSQL database the core runs on, if not SQLite (`init(postgres:)`).
    let postgres: PostgresTestDatabase?

    /// A daemon on a store of `engine`: a new database on the test process's PostgreSQL server,
    /// or the default SQLite file.
    static func make(engine: TestStoreEngine, extraConfig: [String: String] = [:], environment: [String: String] = [:]) async throws -> DaemonProcess {
        let database = engine == .postgresql ? try await PostgresServer.shared.database() : nil
        return try DaemonProcess(extraConfig: extraConfig, environment: environment, postgres: database)
    }

    var adminSocket: String { temp.url.appendingPathComponent("run/admin.sock").path }

    /// Issues links for each resident to each organisation as the matcher would (MATCHER must be
    /// registered), and learns the codes the way organisations do: FetchLink by matching number.
    /// Returns link codes by organisation, then resident code.
    func issueLinks(residents: [String], to orgs: [String]) async throws -> [String: [String: String]] {
        let matcher = try await connect(as: "MATCHER")
        defer { Task { await matcher.close() } }
        var codes: [String: [String: String]] = [:]
        for org in orgs {
            let connection = try await connect(as: org)
            defer { Task { await connection.close() } }
            for resident in residents {
                let number = "M-\(org)-\(resident)"
                _ = try await matcher.request(.issueLink(.with {
                    $0.residentCode = resident; $0.orgCode = org; $0.matchingNumber = number
                    $0.expiresAtMs = Int64(Date().timeIntervalSince1970 * 1000) + 600_000
                }))
                guard case let .fetchLinkResponse(fetched)? = try await connection.request(.fetchLink(.with { $0.matchingNumber = number })) else {
                    throw TestFailure("no link for \(org)")
                }
                codes[org, default: [:]][resident] = fetched.link.linkCode
            }
        }
        return codes
    }

    /// Runs the real `linkctl` against this daemon's admin socket, as the test's user or (when
    /// the tests run as root) as `uid`; returns its exit status and output.
    func linkctl(_ arguments: [String], uid: uid_t? = nil) async throws -> (status: Int32, output: String) {
        let command = (uid.map { ServiceAccount.launcher(uid: $0, gid: $0) } ?? []) + [Products.path("linkctl")]
        return try await runToExit(command[0], Array(command.dropFirst()) + arguments + ["--socket", adminSocket],
                                   outputDirectory: temp.url)
    }

    /// `extraConfig` is appended to the generated TOML, per table: e.g. ["limits": "max_frame_bytes = 2048"].
    /// `postgres`: run the core on this PostgreSQL database (`[store] engine = "postgresql"`, the
    /// connection string in a 0600 file of the test directory) instead of the default SQLite file.
    /// `sharedPKI`: a second core node with the first one's network CA, server and organisation
    /// certificates (register organisations on it with `register`, not `addOrg`).
    /// `sharing`: another node of the same cluster (ClusterNetwork.swift): its PKI and master secret.
    init(extraConfig: [String: String] = [:], environment: [String: String] = [:], launcher: [String] = [],
         postgres: PostgresTestDatabase? = nil, sharedPKI: TestPKI? = nil, sharing: DaemonProcess? = nil) throws {
        temp = try TempDirectory()
        self.postgres = postgres
        var extraConfig = extraConfig
        if let postgres {
            let connection = temp.url.appendingPathComponent("postgresql.conn").path
            FileManager.default.createFile(atPath: connection, contents: Data(postgres.url.utf8), attributes: [.posixPermissions: 0o600])
            extraConfig["store"] = "engine = \"postgresql\"\nconnection = \"\(connection)\""
        }
        let pkiDir = temp.url.appendingPathComponent("pki")
        try FileManager.default.createDirectory(at: pkiDir, withIntermediateDirectories: true)
        pki = try sharing?.pki ?? sharedPKI ?? TestPKI(directory: pkiDir)
        notify = try NotifySocket(directory: temp.url)
        configPath = temp.url.appendingPathComponent("linkcored.toml").path
        logPath = temp.url.appendingPathComponent("linkcored.log").path
        try Self.config(temp: temp.url, pki: pki, extra: extraConfig).write(toFile: configPath, atomically: true, encoding: .utf8)
        let secret = temp.url.appendingPathComponent("master.key").path
        let shared = try sharing.map { try Data(contentsOf: $0.temp.url.appendingPathComponent("master.key")) }
        FileManager.default.createFile(atPath: secret, contents: shared ?? Data((0..<32).map { _ in UInt8.random(in: 0...255) }),
                                       attributes: [.posixPermissions: 0o600])

        var env = ProcessInfo.processInfo.environment
        env["NOTIFY_SOCKET"] = notify.path
        env.removeValue(forKey: "LISTEN_FDS")
        env.removeValue(forKey: "JOURNAL_STREAM")
        // Other tests in this process set these while they run; the daemon gets only what a test gives it.
        for key in ["WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_PID", "LISTEN_FDNAMES", "CREDENTIALS_DIRECTORY"] { env.removeValue(forKey: key) }
        for (k, v) in environment { env[k] = v }
        if launcher.isEmpty {
            process = ChildProcess(executable: Products.path("linkcored"), arguments: ["--config", configPath],
                                   environment: env, outputPath: logPath, serviceDirectory: temp.url.path)
        } else {
            process = ChildProcess(executable: launcher[0],
                                   arguments: Array(launcher.dropFirst()) + [Products.path("linkcored"), "--config", configPath],
                                   environment: env, outputPath: logPath, serviceDirectory: temp.url.path)
        }
    }

    static func config(temp: URL, pki: TestPKI, extra: [String: String]) -> String {
        tomlTables([
            ("core", ["id = \"test-core\"", "state_directory = \"\(temp.appendingPathComponent("state").path)\""]),
            ("listen", ["addresses = [\"127.0.0.1:0\"]", "admin_socket = \"\(temp.appendingPathComponent("run/admin.sock").path)\""]),
            ("tls", ["certificate = \"\(pki.path("server.pem"))\"", "private_key = \"\(pki.path("server.key"))\"",
                     "ca_bundle = \"\(pki.path("ca.pem"))\"", "crl = \"\(pki.path("crl.pem"))\"",
                     // Accept to Hello within 60 s, not the production 5 s: on a loaded 2-core machine a
                     // TLS handshake and Hello can take longer, and every connection then closed unanswered.
                     // The tests of the timeout itself set their own.
                     "handshake_timeout_ms = 60000"]),
            ("log", ["level = \"debug\""]),
            // Change events at once unless a test sets a window (the production default is 60 s).
            ("events", ["delivery_window_ms = 0"]),
            ("keys", ["master_secret = \"\(temp.appendingPathComponent("master.key").path)\""]),
        ], extra: extra)
    }

    /// Issues an organisation certificate now and registers the organisation when the daemon starts.
    @discardableResult
    func addOrg(_ code: String, role: LCRole = .agency, sector: LCSector = .public) throws -> PEMCertificate {
        registrations.append(.with { $0.code = code; $0.name = "Org \(code)"; $0.role = role; $0.sector = sector })
        return try pki.issueOrg(code)
    }

    /// Registers an organisation whose certificate the (shared) PKI already issued.
    func register(_ code: String, role: LCRole = .agency, sector: LCSector = .public) {
        registrations.append(.with { $0.code = code; $0.name = "Org \(code)"; $0.role = role; $0.sector = sector })
    }

    func admin(_ body: LCEnvelope.OneOf_Body) async throws -> LCEnvelope.OneOf_Body? {
        let admin = try await LinkcoreConnection.connect(to: .unix(path: adminSocket), tls: nil, hello: nil)
        defer { Task { await admin.close() } }
        return try await admin.request(body)
    }

    /// Starts the daemon and waits for READY=1; learns the bound port from the admin socket.
    func start() async throws {
        try process.run()
        if let port = activationPort {
            // systemd-socket-activate starts the service on the first connection, as systemd does.
            try await Self.knock(port: port)
        }
        do {
            try await notify.wait(for: "READY=1")
        } catch {
            throw TestFailure("linkcored did not become ready: \(error)\nlog:\n\(log)")
        }
        let status = try await status()
        guard let address = status.listenAddresses.first, let portText = address.split(separator: ":").last,
              let port = Int(portText.filter(\.isNumber)) else {
            throw TestFailure("status lists no listen address: \(status)")
        }
        if self.port == 0 { self.port = port }
        for org in registrations { _ = try await admin(.orgAdd(.with { $0.org = org })) }
        registrations.removeAll()
    }

    func status() async throws -> LCStatus {
        guard case let .status(status)? = try await admin(.statusRequest(LCStatusRequest())) else {
            throw TestFailure("admin socket did not answer with Status")
        }
        return status
    }

    func connect(as name: String?, hello: LCHello? = LinkcoreConnection.defaultHello(software: "test")) async throws -> LinkcoreConnection {
        try await LinkcoreConnection.connect(to: .tcp(host: "127.0.0.1", port: port), tls: try pki.clientTLS(name), hello: hello)
    }

    /// Connects as `name`, then sends nothing, and returns the error the core closed the
    /// connection with. On a loaded machine the test process can stall past a short idle limit
    /// between the TLS handshake and its Hello: the core then closes the half-opened connection
    /// with the same IDLE_TIMEOUT, which is the same observation (a quiet peer is cut off with a
    /// typed error), so that refusal is returned rather than thrown.
    func closeReasonOfASilentPeer(as name: String) async throws -> WireError? {
        let connection: LinkcoreConnection
        do {
            connection = try await connect(as: name)
        } catch let error as WireError where error.code == .idleTimeout {
            return error
        }
        try await connection.closeFuture.get()
        return await connection.closeReason() as? WireError
    }

    func signal(_ number: Int32) { process.signal(number) }

    /// Starts linkcored again on the same config, state and port (after it exited or was
    /// killed), and waits for its READY=1.
    func restart() async throws {
        let config = try String(contentsOfFile: configPath, encoding: .utf8)
            .replacingOccurrences(of: "addresses = [\"127.0.0.1:0\"]", with: "addresses = [\"127.0.0.1:\(port)\"]")
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        let seen = notify.messages.count
        process = ChildProcess(executable: process.executable, arguments: process.arguments,
                               environment: process.environment, outputPath: logPath, serviceDirectory: process.serviceDirectory)
        try process.run()
        do {
            try await notify.wait(for: "READY=1", after: seen)
        } catch {
            throw TestFailure("linkcored did not become ready again: \(error)\nlog:\n\(log)")
        }
    }

    /// Waits for the process to exit; returns its status.
    func waitForExit(timeout: Duration = defaultWaitTimeout) async throws -> Int32 {
        try await process.exitStatus(timeout: timeout, detail: "log:\n\(log)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Opens and closes a TCP connection once the launcher listens.
    static func knock(port: Int) async throws {
        let fd = try await waitFor("nothing listens on port \(port)") { try? loopbackConnect(port: port) }
        close(fd)
    }

    deinit {
        // Stop the daemon now; a drain or a hang is the test's business, not the next test's.
        process.killAndReapInBackground()
    }
}
