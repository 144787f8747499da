import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real PostgreSQL server for the tests (Debian's postgresql-15, installed by scripts/deps.sh),
/// one per test process, started on first use: `initdb` in a temporary directory (as the
/// `postgres` account when the tests run as root: initdb and postgres refuse root), listening only
/// on a Unix socket in that directory, stopped when the test process exits (an exit handler, and
/// a watcher shell that stops it should the process die without running it). Each test takes its
/// own database (`CREATE DATABASE t_<random>`).
public actor PostgresServer {
    public static let shared = PostgresServer()

    public struct Instance: Sendable {
        public let directory: String
        public let port: Int
        public let user: String
        public let binDirectory: String
        public var socketDirectory: String { directory }
    }

    private var started: Task<Instance, any Error>?

    /// The server, started if needed.
    public func instance() async throws -> Instance {
        if let started { return try await started.value }
        let task = Task { try await Self.start() }
        started = task
        return try await task.value
    }

    /// A new, empty database on the shared server.
    public func database() async throws -> PostgresTestDatabase {
        let server = try await instance()
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        _ = try await Self.psql(server, database: "postgres", "CREATE DATABASE \(name)")
        return PostgresTestDatabase(server: server, name: name)
    }

    /// Where Debian keeps the server's programs (the newest version installed).
    public static func binDirectory() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        guard let newest = versions.last else { return nil }
        let bin = "\(root)/\(newest)/bin"
        return FileManager.default.isExecutableFile(atPath: bin + "/initdb") ? bin : nil
    }

    static var asRoot: Bool { geteuid() == 0 }

    /// The command prefix that runs a server program as the unprivileged account.
    static func unprivileged(_ program: String) -> [String] {
        asRoot ? ["/usr/sbin/runuser", "-u", "postgres", "--", program] : [program]
    }

    private static func start() async throws -> Instance {
        guard let bin = binDirectory() else {
            throw TestFailure("PostgreSQL is not installed (scripts/deps.sh installs postgresql-15)")
        }
        // Short path: the socket file's path must fit in 107 bytes.
        let directory = "/tmp/linkcore-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let data = directory + "/data"
        if asRoot {
            guard let account = getpwnam("postgres") else { throw TestFailure("no postgres account (install postgresql-15)") }
            guard chown(directory, account.pointee.pw_uid, account.pointee.pw_gid) == 0 else { throw TestFailure("chown \(directory)") }
        }
        let logs = URL(fileURLWithPath: NSTemporaryDirectory())
        let user = "linkcore"
        let initdbCommand = unprivileged(bin + "/initdb") + [
            "-D", data, "-U", user, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync",
        ]
        let initdb = try await runToExit(initdbCommand[0], Array(initdbCommand.dropFirst()), outputDirectory: logs)
        guard initdb.status == 0 else { throw TestFailure("initdb failed:\n\(initdb.output)") }
        // A private port number names the socket file; no TCP listener at all.
        let port = Int.random(in: 20_000...60_000)
        let postgres = unprivileged(bin + "/postgres") + [
            "-D", data, "-p", "\(port)", "-c", "listen_addresses=", "-c", "unix_socket_directories=\(directory)",
            "-c", "max_connections=400", "-c", "fsync=on", "-c", "synchronous_commit=on",
        ]
        // The watcher: runs the server, stops it (fast shutdown) when this test process is gone:
        // SIGINT to the postmaster itself (its pid file), since runuser need not pass it on.
        let quoted = postgres.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let script = """
            \(quoted) & pg=$!
            while kill -0 \(getpid()) 2>/dev/null && kill -0 $pg 2>/dev/null; do sleep 0.5; done
            kill -INT "$(head -n 1 '\(data)/postmaster.pid' 2>/dev/null)" 2>/dev/null; kill -INT $pg 2>/dev/null; wait $pg
            rm -rf '\(directory)'
            """
        let watcher = ChildProcess(executable: "/bin/sh", arguments: ["-c", script], environment: ["PATH": "/usr/bin:/bin:/usr/sbin"],
                                   outputPath: logs.appendingPathComponent("linkcore-postgres-\(port).log").path)
        try watcher.run()
        Self.registerExitStop(data: data)
        let instance = Instance(directory: directory, port: port, user: user, binDirectory: bin)
        try await eventually(timeout: .seconds(120), poll: .milliseconds(100),
                             "PostgreSQL did not start; see \(watcher.outputPath)") {
            guard watcher.isRunning else { throw TestFailure("PostgreSQL exited:\n\((try? String(contentsOfFile: watcher.outputPath, encoding: .utf8)) ?? "")") }
            return (try? await psql(instance, database: "postgres", "SELECT 1")) != nil
        }
        return instance
    }

    /// Runs SQL with psql (an independent checker of what the store wrote); returns its output
    /// (unaligned, tuples only).
    @discardableResult
    public static func psql(_ server: Instance, database: String, _ sql: String) async throws -> String {
        let result = try await runToExit(server.binDirectory + "/psql", [
            "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", server.socketDirectory, "-p", "\(server.port)", "-U", server.user,
            "-d", database, "-c", sql,
        ], environment: ["PATH": "/usr/bin:/bin", "PGCONNECT_TIMEOUT": "10"], outputDirectory: URL(fileURLWithPath: NSTemporaryDirectory()))
        guard result.status == 0 else { throw TestFailure("psql \(sql): \(result.output)") }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    nonisolated(unsafe) private static var exitStopData: String?

    /// Stops the server when the test process exits normally (fast shutdown, not waiting).
    private static func registerExitStop(data: String) {
        exitStopData = data
        atexit {
            guard let data = PostgresServer.exitStopData,
                  let pidText = try? String(contentsOfFile: data + "/postmaster.pid", encoding: .utf8),
                  let pid = pidText.split(separator: "\n").first.flatMap({ pid_t($0) }) else { return }
            kill(pid, SIGINT)
        }
    }
}

/// One test's database on the shared server.
public struct PostgresTestDatabase: Sendable {
    public let server: PostgresServer.Instance
    public let name: String
    /// Further servers of the same cluster (standbys), listed after `server` in `url`.
    public var standbys: [PostgresServer.Instance] = []

    /// A libpq-style URL for linkcored's `[store]` connection file and `PostgresSettings.parse`;
    /// with standbys, every server in order and the read-write target.
    public var url: String {
        let servers = [server] + standbys
        let hosts = servers.map(\.socketDirectory).joined(separator: ","), ports = servers.map { "\($0.port)" }.joined(separator: ",")
        return "postgresql://\(server.user)@/\(name)?host=\(hosts)&port=\(ports)" + (standbys.isEmpty ? "" : "&target_session_attrs=read-write")
    }

    /// Runs SQL in this database with psql.
    @discardableResult
    public func psql(_ sql: String) async throws -> String {
        try await PostgresServer.psql(server, database: name, sql)
    }

    /// Drops the database (best effort: open connections keep it until they close).
    public func drop() async {
        _ = try? await PostgresServer.psql(server, database: "postgres", "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }
}
