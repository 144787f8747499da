import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL server of one test's own, run by `pg_ctl`, that the test may stop and start again
/// (the shared `PostgresServer` stays up for every other test of the process). Same set-up as the
/// shared one: `initdb` in a temporary directory as the unprivileged account, a Unix socket only,
/// fsync and synchronous_commit on. A watcher shell stops it and removes the directory when the
/// test process has gone, should the test not get to `shutdown()`.
public final class PostgresPrivateServer: Sendable {
    public let instance: PostgresServer.Instance
    let data: String
    let options: String
    let logs = URL(fileURLWithPath: NSTemporaryDirectory())

    init(instance: PostgresServer.Instance, data: String, options: String) {
        self.instance = instance; self.data = data; self.options = options
    }

    /// `tls`: also listen on 127.0.0.1 (the same port) with TLS, under the PKI's `server.pem`
    /// (localhost, 127.0.0.1). `settings`: more `name=value` server settings, on the command line
    /// (so a standby copied from this server by `pg_basebackup` does not inherit them).
    public static func start(tls: TestPKI? = nil, settings: [String] = []) async throws -> PostgresPrivateServer {
        let (bin, directory) = try makeDirectory(prefix: "pgp")
        let data = directory + "/data"
        let initdb = PostgresServer.unprivileged(bin + "/initdb") + [
            "-D", data, "-U", "linkcore", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync",
        ]
        let result = try await runToExit(initdb[0], Array(initdb.dropFirst()), outputDirectory: URL(fileURLWithPath: NSTemporaryDirectory()))
        guard result.status == 0 else { throw TestFailure("initdb failed:\n\(result.output)") }
        var options = settings.map { " -c " + $0 }.joined()
        if let tls {
            // The key must belong to the server's account and be readable by it alone.
            for (from, to) in [("server.pem", "server.crt"), ("server.key", "server.key")] {
                try FileManager.default.copyItem(atPath: tls.path(from), toPath: directory + "/" + to)
                chmod(directory + "/" + to, 0o600)
                if PostgresServer.asRoot, let account = getpwnam("postgres") {
                    chown(directory + "/" + to, account.pointee.pw_uid, account.pointee.pw_gid)
                }
            }
            options += " -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=\(directory)/server.crt -c ssl_key_file=\(directory)/server.key"
        } else {
            options += " -c listen_addresses=''"
        }
        return try await launch(bin: bin, directory: directory, options: options)
    }

    /// A directory for a server's files, owned by the unprivileged account when the tests run as
    /// root. Short path: the socket file's path must fit in 107 bytes.
    private static func makeDirectory(prefix: String) throws -> (bin: String, directory: String) {
        guard let bin = PostgresServer.binDirectory() else {
            throw TestFailure("PostgreSQL is not installed (scripts/deps.sh installs postgresql-15)")
        }
        let directory = "/tmp/linkcore-\(prefix)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        if PostgresServer.asRoot {
            guard let account = getpwnam("postgres") else { throw TestFailure("no postgres account (install postgresql-15)") }
            guard chown(directory, account.pointee.pw_uid, account.pointee.pw_gid) == 0 else { throw TestFailure("chown \(directory)") }
        }
        return (bin, directory)
    }

    /// Starts the server of `directory/data` on a random port, a Unix socket in `directory`, fsync
    /// and synchronous_commit on, plus `options`; and the watcher that stops it and removes the
    /// directory when this test process has gone.
    private static func launch(bin: String, directory: String, options extra: String) async throws -> PostgresPrivateServer {
        let data = directory + "/data"
        let port = Int.random(in: 20_000...60_000)
        let options = "-p \(port) -c unix_socket_directories=\(directory) -c fsync=on -c synchronous_commit=on" + extra
        let server = PostgresPrivateServer(instance: PostgresServer.Instance(directory: directory, port: port, user: "linkcore", binDirectory: bin),
                                           data: data, options: options)
        try await server.pgctl(["start", "-w", "-t", "120", "-l", directory + "/server.log", "-o", options])
        let stop = (PostgresServer.unprivileged(bin + "/pg_ctl") + ["-D", data, "stop", "-m", "immediate"])
            .map { "'" + $0 + "'" }.joined(separator: " ")
        let watcher = ChildProcess(executable: "/bin/sh", arguments: ["-c", """
            while kill -0 \(getpid()) 2>/dev/null && [ -d '\(data)' ]; do sleep 1; done
            [ -d '\(data)' ] && { \(stop); rm -rf '\(directory)'; }
            """], environment: ["PATH": "/usr/bin:/bin:/usr/sbin"], outputPath: directory + "-watcher.log")
        try watcher.run()
        return server
    }

    /// Issue 16, item 4(b): a streaming standby of this server, copied by `pg_basebackup -R`
    /// (WAL streamed during the copy; `standby.signal` and `primary_conninfo` written), started on
    /// its own socket and port as a hot standby that reports `name` as its application name
    /// (`cluster_name`): list `name` in this server's `synchronous_standby_names` (see `start`'s
    /// `settings`) to make it synchronous. Read-only until `promote()`.
    public func standby(name: String) async throws -> PostgresPrivateServer {
        let (bin, directory) = try Self.makeDirectory(prefix: "pgs")
        let backup = PostgresServer.unprivileged(bin + "/pg_basebackup") + [
            "-D", directory + "/data", "-R", "-X", "stream", "-c", "fast", "--no-sync",
            "-h", instance.socketDirectory, "-p", "\(instance.port)", "-U", instance.user,
        ]
        let result = try await runToExit(backup[0], Array(backup.dropFirst()), environment: ["PATH": "/usr/bin:/bin"],
                                         outputDirectory: logs)
        guard result.status == 0 else { throw TestFailure("pg_basebackup failed:\n\(result.output)") }
        return try await Self.launch(bin: bin, directory: directory, options: " -c listen_addresses='' -c cluster_name=\(name)")
    }

    /// A standby becomes a primary (`pg_ctl promote`, waiting until it takes writes).
    public func promote() async throws { try await pgctl(["promote", "-w", "-t", "120"]) }

    /// The postmaster killed with SIGKILL, as when its machine fails: no shutdown at all; its
    /// backends end when they notice the postmaster is gone.
    public func killPostmaster() throws {
        let pidText = try String(contentsOfFile: data + "/postmaster.pid", encoding: .utf8)
        guard let pid = pidText.split(separator: "\n").first.flatMap({ pid_t($0) }), pid > 0 else {
            throw TestFailure("no postmaster pid in \(data)/postmaster.pid")
        }
        guard kill(pid, SIGKILL) == 0 else { throw TestFailure("kill -9 \(pid): errno \(errno)") }
    }

    /// The database `name` on this server (after a failover, the one the old primary had).
    public func database(named name: String) -> PostgresTestDatabase { PostgresTestDatabase(server: instance, name: name) }

    func pgctl(_ arguments: [String]) async throws {
        let command = PostgresServer.unprivileged(instance.binDirectory + "/pg_ctl") + ["-D", data] + arguments
        let result = try await runToExit(command[0], Array(command.dropFirst()), environment: ["PATH": "/usr/bin:/bin"], outputDirectory: logs)
        guard result.status == 0 else { throw TestFailure("pg_ctl \(arguments): \(result.output)") }
    }

    /// A new, empty database on this server.
    public func database() async throws -> PostgresTestDatabase {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        _ = try await PostgresServer.psql(instance, database: "postgres", "CREATE DATABASE \(name)")
        return PostgresTestDatabase(server: instance, name: name)
    }

    /// The server gone at once, as when its machine fails: `pg_ctl stop -m immediate` (no
    /// checkpoint; the next start recovers from the WAL).
    public func stopImmediately() async throws { try await pgctl(["stop", "-m", "immediate"]) }

    /// Starts it again on the same socket and port; returns once it accepts connections.
    public func restart() async throws {
        try await pgctl(["start", "-w", "-t", "120", "-l", instance.directory + "/server.log", "-o", options])
    }

    /// Stops the server (if running) and removes its directory.
    public func shutdown() async {
        try? await pgctl(["stop", "-m", "fast"])
        try? FileManager.default.removeItem(atPath: instance.directory)
    }
}
