import LinkcoreWire
import Logging
import NIOCore

/// Everything a server connection needs from its process, shared by all its connections.
public struct ConnectionEnvironment: Sendable {
    public var coreID: String
    public var limits: ConnectionLimits
    public var service: any RequestHandling
    public var metrics: Metrics
    public var registry: ConnectionRegistry
    public var logger: Logger

    public init(coreID: String, limits: ConnectionLimits, service: any RequestHandling, metrics: Metrics,
                registry: ConnectionRegistry, logger: Logger) {
        self.coreID = coreID; self.limits = limits; self.service = service
        self.metrics = metrics; self.registry = registry; self.logger = logger
    }
}

/// Asks a connection to drain: say GoingAway, finish what is in flight, then close.
public struct DrainEvent: Sendable {
    public var drainMs: UInt32
    public init(drainMs: UInt32) { self.drainMs = drainMs }
}

/// Ends a session at once: the error (id 0) is sent, then the connection is closed. Used when
/// the organisation is suspended or its certificate revoked while the session is open.
public struct EndSessionEvent: Sendable {
    public var error: WireError
    public init(error: WireError) { self.error = error }
}

/// Asks a connection to send a request the core starts (ProvideRequest, LinkIssued,
/// ChangeEvent) and to complete `promise` with the peer's reply envelope (which may be an Error).
public struct CoreRequestEvent: Sendable {
    public var body: LCEnvelope.OneOf_Body
    public var timeout: TimeAmount
    public var promise: EventLoopPromise<LCEnvelope>
    public init(body: LCEnvelope.OneOf_Body, timeout: TimeAmount, promise: EventLoopPromise<LCEnvelope>) {
        self.body = body; self.timeout = timeout; self.promise = promise
    }
}
