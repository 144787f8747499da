import Foundation
import LinkcoreClient
import LinkcoreWire
import Logging
import NIOCore
import Synchronization

/// The adapter's connection to the core, kept up for as long as the adapter runs: on loss it
/// reconnects with exponential backoff and full jitter (so that many adapters cut off by one
/// core restart do not all come back in the same instant). Pushes (LinkIssued, ChangeEvent,
/// ProvideRequest) go to `incoming`; pending events are pushed again by the core on reconnect.
public final class CoreSession: Sendable {
    /// Exponential with full jitter; LinkcoreClient's, shared with every peer of the core.
    public typealias Backoff = ReconnectBackoff

    public struct State: Sendable {
        public var connected = false
        public var connects = 0
        public var lastError: String?
        public var keepaliveMs = 30_000
        /// The core node connected to (`host:port`), nil while not connected.
        public var core: String?
    }

    let endpoint: CoreEndpoint
    let orgCode: String
    let backoff: Backoff
    let incoming: IncomingRequestHandler
    let logger: Logger
    private let current = Mutex<LinkcoreConnection?>(nil)
    private let stateBox = Mutex(State())
    private let stopped = Atomic<Bool>(false)

    public init(endpoint: CoreEndpoint, orgCode: String, backoff: Backoff, logger: Logger, incoming: @escaping IncomingRequestHandler) {
        self.endpoint = endpoint
        self.orgCode = orgCode
        self.backoff = backoff
        self.logger = logger
        self.incoming = incoming
    }

    public var state: State { stateBox.withLock { $0 } }

    /// The live connection, or UNAVAILABLE (retryable) while reconnecting.
    public func connection() throws(WireError) -> LinkcoreConnection {
        guard let connection = current.withLock({ $0 }) else {
            throw WireError(.unavailable, "not connected to the core (reconnecting)")
        }
        return connection
    }

    public func request(_ body: LCEnvelope.OneOf_Body, timeout: TimeAmount) async throws -> LCEnvelope.OneOf_Body? {
        try await connection().request(body, timeout: timeout)
    }

    /// Connects and reconnects until `stop()`. `onConnected` runs after each successful Hello.
    public func run(onConnected: @escaping @Sendable () -> Void = {}) async {
        var failures = 0
        while !stopped.load(ordering: .relaxed) && !Task.isCancelled {
            do {
                let connection = try await endpoint.connect(acceptsPushes: true, incoming: incoming) { [logger] address, error in
                    logger.warning("core node unreachable; trying the next", metadata: ["core": "\(address)", "error": "\(error)"])
                }
                let node = endpoint.addresses.current.description
                let welcomed = connection.welcome?.orgCode ?? ""
                guard welcomed == orgCode else {
                    await connection.close()
                    throw AdapterError("the certificate binds \(welcomed), not [adapter] org_code \(orgCode)")
                }
                failures = 0
                current.withLock { $0 = connection }
                stateBox.withLock {
                    $0.connected = true; $0.connects += 1; $0.lastError = nil
                    $0.keepaliveMs = Int(connection.welcome?.keepaliveMs ?? 30_000)
                    $0.core = node
                }
                logger.info("connected to the core", metadata: ["core": "\(node)"])
                onConnected()
                await serve(connection)
                current.withLock { $0 = nil }
                stateBox.withLock { $0.connected = false; $0.core = nil }
                if stopped.load(ordering: .relaxed) { return }
                // The node may be gone: the next round starts with the next address.
                endpoint.addresses.failOver()
                var reason = "closed"
                if let error = await connection.closeReason() {
                    reason = "\(error)"
                } else if let away = await connection.goingAway() {
                    reason = "going away: \(away.reason)"
                }
                logger.warning("lost the core; reconnecting", metadata: ["reason": "\(reason)", "core": "\(node)"])
                stateBox.withLock { $0.lastError = reason }
            } catch {
                failures += 1
                stateBox.withLock { $0.lastError = "\(error)" }
                logger.warning("cannot reach the core", metadata: ["error": "\(error)", "attempt": "\(failures)"])
            }
            let pause = backoff.delay(afterFailures: failures)
            try? await Task.sleep(for: pause)
        }
    }

    /// Pings at the core's keepalive interval (a quiet adapter must not be closed as idle) and
    /// waits for the connection to end, or for a GoingAway (then reconnects at once: the core drains).
    private func serve(_ connection: LinkcoreConnection) async {
        let interval = Int(connection.welcome?.keepaliveMs ?? 30_000)
        let keepalive = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(interval))
                _ = try? await connection.request(.ping(LCPing()), timeout: .seconds(10))
            }
        }
        try? await connection.closeFuture.get()
        keepalive.cancel()
    }

    public func stop() async {
        stopped.store(true, ordering: .relaxed)
        if let connection = current.withLock({ $0 }) { await connection.close() }
    }
}
