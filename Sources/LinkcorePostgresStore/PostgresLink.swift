import Foundation
import LinkcoreInstruments
import LinkcoreStore
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// One connection to PostgreSQL, (re)opened on demand. When the connection is lost, the next use
/// opens a new one; while PostgreSQL cannot be reached, uses within the back-off after a failed
/// attempt fail at once with `StoreError.unavailable` (retryable) rather than each waiting for a
/// connect timeout, so the core refuses new work quickly instead of hanging.
final class PostgresLink: Sendable {
    let settings: PostgresSettings
    let logger: Logger
    let name: String
    let state = Mutex(State())
    /// Serialises connecting, so concurrent users do not open several connections at once.
    private let connecting = AsyncSerial()
    /// 1 while the connection is open, 0 while PostgreSQL cannot be reached. Looked up when set,
    /// not kept: the store opens before the daemon bootstraps its metrics system, and a gauge
    /// made then would stay bound to the no-op one.
    private var reachable: Gauge { LinkcoreMetric.storeReachable.gauge([("connection", name)]) }

    struct State {
        var session: Session?
        var lastFailure: ContinuousClock.Instant?
        var failures = 0
        var lastError = ""
        /// Why writes are not confirmed though the server is reachable (a batch that did not
        /// finish, and what the server said its backends were doing); cleared by the next commit.
        var stall: String?
    }

    /// An open connection and what it is connected to: for closing it, and for asking the server
    /// (on another connection) what its backend is doing.
    struct Session: Sendable {
        let connection: PostgresConnection
        let endpoint: PostgresSettings.Endpoint
        let backendPID: Int32
    }

    init(settings: PostgresSettings, name: String, logger: Logger) {
        self.settings = settings
        self.name = name
        self.logger = logger
    }

    /// Why this connection cannot take work now: its last connection attempt's error while it has
    /// not succeeded since, or a stall of the writes (`explainStall`); nil when all is well.
    var problem: String? {
        state.withLock { $0.failures > 0 ? "PostgreSQL unreachable (\($0.lastError))" : $0.stall }
    }

    /// Whether the connection is open now, reconnecting (within the back-off) if it was lost:
    /// what the store's probe calls, so an idle node also notices a lost server and its return.
    func check() async {
        _ = try? await session()
    }

    static let ids = Atomic<Int>(0)

    /// The open connection, or a new one.
    func connection() async throws -> PostgresConnection { try await session().connection }

    /// The open session, or a new one.
    func session() async throws -> Session {
        if let open = state.withLock({ $0.session }), !open.connection.isClosed { return open }
        return try await connecting.run { () async throws -> Session in
            if let open = self.state.withLock({ $0.session }), !open.connection.isClosed { return open }
            // Back-off after a failure: 100 ms doubling to 2 s.
            let (last, failures, lastError) = self.state.withLock { ($0.lastFailure, $0.failures, $0.lastError) }
            if let last {
                let wait = Duration.milliseconds(min(2_000, 100 << min(failures, 5)))
                if ContinuousClock.now - last < wait {
                    throw StoreError.unavailable("PostgreSQL unreachable (\(lastError)); retrying")
                }
            }
            do {
                let session = try await self.connectToTarget()
                self.state.withLock { $0.session = session; $0.lastFailure = nil; $0.failures = 0 }
                self.reachable.record(1)
                if failures > 0 { self.logger.notice("PostgreSQL reachable again", metadata: ["connection": "\(self.name)"]) }
                return session
            } catch is CancellationError {
                // The caller went away (a cancelled request): says nothing about the server.
                throw StoreError.unavailable("PostgreSQL connection attempt cancelled")
            } catch {
                let text = (error as? Unreachable)?.text ?? PostgresErrors.describe(error)
                self.state.withLock { $0.session = nil; $0.lastFailure = .now; $0.failures += 1; $0.lastError = text }
                self.reachable.record(0)
                if failures == 0 {
                    self.logger.error("PostgreSQL unreachable", metadata: ["connection": "\(self.name)", "error": "\(text)"])
                }
                if let storeError = error as? StoreError { throw storeError }
                throw StoreError.unavailable("PostgreSQL unreachable: \(text)")
            }
        }
    }

    /// The first server of the list, in order, that answers and gives a session linkcored may use:
    /// `synchronous_commit` on, and (target read-write) `transaction_read_only` off, so a standby
    /// is passed over and, once promoted, taken (libpq's `target_session_attrs=read-write`). Tried
    /// in order on every (re)connect: after a failover the old primary, gone or back as a
    /// standby, is refused and the promoted one found, with no state kept about which was which.
    private func connectToTarget() async throws -> Session {
        var problems: [String] = []
        for endpoint in settings.endpoints {
            let connection: PostgresConnection
            do {
                connection = try await connectRetryingBriefly(endpoint)
            } catch {
                if error is CancellationError { throw error }
                problems.append(settings.endpoints.count > 1 ? "\(endpoint): \(PostgresErrors.describe(error))" : PostgresErrors.describe(error))
                continue
            }
            let described: Described
            do {
                // Bounded like the connect itself: a server that accepted the connection and
                // then stopped answering must not hold every later connect of this link.
                guard let answer = try await PostgresDeadline.run(within: Self.connectTimeout, onTimeout: { Self.closeInBackground(connection) }, {
                    try await self.describe(connection)
                }) else {
                    problems.append("\(endpoint): no answer within \(Self.connectTimeout)")
                    continue
                }
                described = answer
            } catch {
                Self.closeInBackground(connection)
                problems.append("\(endpoint): \(PostgresErrors.describe(error))")
                continue
            }
            if let refusal = refusal(of: described) {
                Self.closeInBackground(connection)
                // A session the core must not use is not a server out of reach: said as it is.
                if settings.endpoints.count == 1, refusal.hasPrefix("synchronous_commit") {
                    throw StoreError.unavailable("PostgreSQL session has \(refusal); linkcored needs it on")
                }
                problems.append("\(endpoint): \(refusal)")
                continue
            }
            if settings.endpoints.count > 1 || !described.synchronousStandbys.isEmpty {
                logger.info("PostgreSQL session opened", metadata: [
                    "connection": "\(name)", "server": "\(endpoint)", "synchronous_standby_names": "\(described.synchronousStandbys)",
                ])
            }
            return Session(connection: connection, endpoint: endpoint, backendPID: described.backendPID)
        }
        throw Unreachable(text: settings.endpoints.count > 1
            ? "no \(settings.targetSession.rawValue) server among \(settings.endpoints.count): \(problems.joined(separator: "; "))"
            : problems.joined(separator: "; "))
    }

    /// No server of the list gave a usable session: what each said.
    private struct Unreachable: Error { let text: String }

    /// What a fresh session says of itself, in one round trip.
    private struct Described: Sendable {
        let synchronousCommit: String
        let readOnly: Bool
        let backendPID: Int32
        let synchronousStandbys: String
    }

    /// As the connect's own timeout (`PostgresSettings.connectionConfiguration`).
    static let connectTimeout = Duration.seconds(5)

    private func describe(_ connection: PostgresConnection) async throws -> Described {
        let rows = try await connection.query("""
            SELECT current_setting('synchronous_commit'), current_setting('transaction_read_only'), pg_backend_pid(),
                   current_setting('synchronous_standby_names')
            """, logger: logger)
        var described: Described?
        for try await (mode, readOnly, pid, standbys) in rows.decode((String, String, Int32, String).self) {
            described = Described(synchronousCommit: mode, readOnly: readOnly != "off", backendPID: pid, synchronousStandbys: standbys)
        }
        guard let described else { throw StoreError.unavailable("PostgreSQL did not describe the session") }
        return described
    }

    /// Why a fresh session must not be used, or nil. A write is acknowledged only after its commit
    /// is durable: a session where the server (or a role setting) turned synchronous_commit off is
    /// refused; with target read-write, so is a read-only one (a standby in recovery).
    private func refusal(of session: Described) -> String? {
        guard ["on", "remote_apply", "remote_write"].contains(session.synchronousCommit) else {
            return "synchronous_commit = \(session.synchronousCommit)"
        }
        if settings.targetSession == .readWrite, session.readOnly { return "read-only (a standby), target read-write" }
        return nil
    }

    /// A connection storm (many nodes, or a test run, connecting at once while the server is busy)
    /// can fill the server's listen backlog, which a Unix socket reports at once (EAGAIN) where
    /// TCP would queue: a refused connect is retried three times, 50-200 ms apart, before the
    /// server is called unreachable. A server that is really down costs 350 ms more, no hang. A
    /// connect that timed out is not retried: with several hosts, a machine that is gone would
    /// otherwise hold up the next host for four timeouts.
    private func connectRetryingBriefly(_ endpoint: PostgresSettings.Endpoint) async throws -> PostgresConnection {
        var attempt = 0
        while true {
            do {
                return try await PostgresConnection.connect(
                    configuration: try settings.connectionConfiguration(for: endpoint),
                    id: Self.ids.wrappingAdd(1, ordering: .relaxed).newValue, logger: logger)
            } catch {
                attempt += 1
                if attempt > 3 || error is CancellationError || Self.isTimeout(error) { throw error }
                try await Task.sleep(for: .milliseconds(25 << attempt))
            }
        }
    }

    private static func isTimeout(_ error: any Error) -> Bool {
        if case ChannelError.connectTimeout? = ((error as? PSQLError)?.underlying ?? error) as? ChannelError { return true }
        return false
    }

    /// Drops a connection that failed mid-use (the next use opens another).
    func discard(_ connection: PostgresConnection) {
        state.withLock { if $0.session?.connection === connection { $0.session = nil } }
        Self.closeInBackground(connection)
    }

    /// Closes without waiting, keeping the connection alive until it is closed (postgres-nio
    /// asserts that a connection is closed before it is freed).
    static func closeInBackground(_ connection: PostgresConnection) {
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// A store dropped without `close()` (the domain tests, a failed start) closes its connections.
    deinit {
        if let connection = state.withLock({ $0.session?.connection }) { Self.closeInBackground(connection) }
    }

    func close() async {
        let connection = state.withLock { s -> PostgresConnection? in defer { s.session = nil }; return s.session?.connection }
        try? await connection?.close()
    }
}

/// Runs async bodies one at a time (a lock that can be held across `await`).
final class AsyncSerial: Sendable {
    private let state = Mutex<(busy: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if !s.busy { s.busy = true; return true }
                s.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty { s.busy = false; return nil }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }
}

enum PostgresErrors {
    /// SQLSTATE of a server error, if it is one.
    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    static func isUniqueViolation(_ error: any Error) -> Bool { sqlState(error) == "23505" }

    /// Whether the error means the connection is gone (as opposed to a refused statement).
    static func isConnectionLoss(_ error: any Error) -> Bool {
        if let error = error as? PSQLError {
            switch error.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .sslUnsupported,
                 .failedToAddSSLHandler, .messageDecodingFailure, .unexpectedBackendMessage:
                return true
            default:
                break
            }
            // 08: connection exception; 57P01-3: the server is shutting down or starting.
            if let state = error.serverInfo?[.sqlState], state.hasPrefix("08") || state.hasPrefix("57P") { return true }
        }
        return error is ChannelError || error is IOError
    }

    /// A short text for logs and `StoreError.unavailable`: the server's message, or the code.
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                return "\(message) (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?"))"
            }
            return "\(error.code)"
        }
        return "\(error)"
    }

    /// What a caller of the store sees: the store's own errors as they are; anything the database
    /// said or a lost connection as `StoreError.unavailable` (retryable: the domain refuses with
    /// UNAVAILABLE, and nothing was acknowledged).
    static func map(_ error: any Error) -> any Error {
        if error is StoreError { return error }
        return StoreError.unavailable("PostgreSQL: \(describe(error))")
    }
}
