import LinkcoreTLS
import LinkcoreWire
import NIOCore

/// An authenticated organisation with a session on one connection.
public struct Peer: Sendable {
    public var orgCode: String
    public var identity: PeerIdentity
    public var role: LCRole
    public var version: UInt32
}

/// Completes one request exactly once, from any thread.
public struct Reply: Sendable {
    let complete: @Sendable (Result<LCEnvelope.OneOf_Body, WireError>) -> Void

    public init(_ complete: @escaping @Sendable (Result<LCEnvelope.OneOf_Body, WireError>) -> Void) {
        self.complete = complete
    }

    public func callAsFunction(_ body: LCEnvelope.OneOf_Body) { complete(.success(body)) }
    public func callAsFunction(_ result: Result<LCEnvelope.OneOf_Body, WireError>) { complete(result) }
    public func fail(_ error: WireError) { complete(.failure(error)) }
}

/// The domain side of the core, as the connection layer sees it.
public protocol RequestHandling: Sendable {
    /// Whether an organisation whose certificate is valid may open a session, and in which role.
    func admit(orgCode: String) -> Result<LCRole, WireError>
    /// Called on the connection's event loop for each domain request; must reply exactly once.
    func handle(_ request: LCEnvelope, from peer: Peer, reply: Reply)
    /// Called once a session is open (after Welcome), e.g. to deliver what waited for the peer.
    func sessionStarted(_ peer: Peer, channel: any Channel, acceptsPushes: Bool)
}

extension RequestHandling {
    public func sessionStarted(_ peer: Peer, channel: any Channel, acceptsPushes: Bool) {}
}

/// Sends requests a server starts (ProvideRequest, LinkIssued, ChangeEvent) to peers that
/// said in Hello that they take them.
public struct Pusher: Sendable {
    public let registry: ConnectionRegistry
    public var timeout: TimeAmount

    public init(registry: ConnectionRegistry, timeout: TimeAmount = .seconds(10)) {
        self.registry = registry
        self.timeout = timeout
    }

    public func channels(of orgCode: String) -> [any Channel] { registry.pushChannels(of: orgCode) }

    /// The peer's reply envelope, which may be an Error. Fails with UNAVAILABLE when the
    /// connection closed before the request reached it.
    public func request(_ body: LCEnvelope.OneOf_Body, on channel: any Channel, timeout: TimeAmount? = nil) async throws -> LCEnvelope {
        let promise = channel.eventLoop.makePromise(of: LCEnvelope.self)
        // The registry lists a connection until the core sees it close, so a push can reach the
        // event loop after NIO tore the pipeline down: then no handler gets the event and NIO
        // only fails this promise. The request's deadline timer lives in that handler, so without
        // this the caller would wait forever (a change-event drain stuck for good: PusherTests).
        let handedOver = channel.eventLoop.makePromise(of: Void.self)
        handedOver.futureResult.whenFailure { _ in promise.fail(WireError(.unavailable, "the peer's connection closed")) }
        channel.triggerUserOutboundEvent(CoreRequestEvent(body: body, timeout: timeout ?? self.timeout, promise: promise), promise: handedOver)
        return try await promise.futureResult.get()
    }
}
