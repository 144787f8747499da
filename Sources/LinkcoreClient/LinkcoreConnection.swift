import LinkcoreTLS
import LinkcoreTransport
import LinkcoreWire
import NIOCore
import NIOPosix

/// A connection to linkcored (or to the matcher, which speaks the same protocol), for adapters,
/// the operator tool, tests and benchmarks.
public final class LinkcoreConnection: Sendable {
    public enum Endpoint: Sendable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    public let channel: any Channel
    /// The core's Welcome; nil on the admin socket, which has no Hello.
    public let welcome: LCWelcome?
    private let handler: NIOLoopBound<ClientHandler>

    private init(channel: any Channel, handler: NIOLoopBound<ClientHandler>, welcome: LCWelcome?) {
        self.channel = channel
        self.handler = handler
        self.welcome = welcome
    }

    /// Connects, completes TLS and, when `hello` is given, the Hello/Welcome exchange.
    /// A refusal by the core (bad certificate, unsupported version, …) is thrown as `WireError`.
    public static func connect(
        to endpoint: Endpoint,
        tls: TLSContext?,
        hello: LCHello? = LinkcoreConnection.defaultHello(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        limits: ConnectionLimits = ConnectionLimits(),
        timeout: TimeAmount = .seconds(10),
        incoming: IncomingRequestHandler? = nil
    ) async throws -> LinkcoreConnection {
        // Created here, not looked up later: a core that refuses at once may have torn the
        // pipeline down before connect() returns, and the handler still knows why.
        let box = HandlerBox(ClientHandler(incoming: incoming))
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Pipelines.configure(channel, tls: tls, role: .client, limits: limits, application: box.handler)
                }
            }
        let channel: any Channel
        switch endpoint {
        case let .tcp(host, port):
            channel = try await bootstrap.channelOption(.tcpOption(.tcp_nodelay), value: 1).connect(host: host, port: port).get()
        case let .unix(path):
            channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
        }
        let handler = try await channel.eventLoop.submit { NIOLoopBound(box.handler, eventLoop: channel.eventLoop) }.get()
        let connection = LinkcoreConnection(channel: channel, handler: handler, welcome: nil)
        guard let hello else { return connection }
        do {
            guard case let .welcome(welcome)? = try await connection.request(.hello(hello), timeout: timeout) else {
                throw WireError(.malformedMessage, "the core did not answer Hello with Welcome")
            }
            return LinkcoreConnection(channel: channel, handler: handler, welcome: welcome)
        } catch {
            try? await channel.close()
            throw error
        }
    }

    public static func defaultHello(software: String = "linkcore-client/0.1", orgCode: String = "", acceptsPushes: Bool = false) -> LCHello {
        var hello = LCHello()
        hello.minVersion = ProtocolVersion.minimum
        hello.maxVersion = ProtocolVersion.current
        hello.software = software
        hello.orgCode = orgCode
        hello.acceptsPushes = acceptsPushes
        return hello
    }

    /// Sends one request and waits for its reply body. An Error reply is thrown as `WireError`.
    public func request(_ body: LCEnvelope.OneOf_Body, timeout: TimeAmount? = .seconds(30)) async throws -> LCEnvelope.OneOf_Body? {
        let loop = channel.eventLoop
        let promise = loop.makePromise(of: LCEnvelope.self)
        let handler = self.handler
        loop.execute { handler.value.start(body, promise: promise, timeout: timeout) }
        return try await promise.futureResult.get().body
    }

    /// Sends bytes as they are, framed or not (tests of the core's frame handling).
    public func sendRaw(_ bytes: [UInt8]) {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.writeRaw(ByteBuffer(bytes: bytes)) }
    }

    /// Why the connection ended (or the last connection-level error the core sent), if known.
    public func closeReason() async -> (any Error)? {
        let handler = self.handler
        return try? await channel.eventLoop.submit { handler.value.closeReason }.get()
    }

    /// The GoingAway the core sent, if any.
    public func goingAway() async -> LCGoingAway? {
        let handler = self.handler
        return try? await channel.eventLoop.submit { handler.value.goingAway }.get()
    }

    /// Resolves when the connection is closed, by either side.
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    public func close() async {
        try? await channel.close()
    }
}

extension LinkcoreConnection {
    /// The identity in the certificate the core presented (after the TLS handshake).
    public func serverIdentity() async -> PeerIdentity? {
        let handler = self.handler
        return try? await channel.eventLoop.submit { handler.value.serverIdentity }.get()
    }
}

/// Hands the handler to the channel initializer; it is used only on the channel's event loop.
private final class HandlerBox: @unchecked Sendable {
    let handler: ClientHandler
    init(_ handler: ClientHandler) { self.handler = handler }
}
