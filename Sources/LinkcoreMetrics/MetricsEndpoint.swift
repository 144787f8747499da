import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

/// `[metrics] listen`: answers `GET /metrics` with the Prometheus text exposition, 404 for any
/// other path, 405 for any other method on /metrics.
///
/// Why NIOHTTP1 and not an HTTP framework: this is one GET-only route on a loopback-only
/// listener, for a scraper on the same host. NIOHTTP1 is already in the build (through
/// swift-nio), and the core's dependency graph stays free of a web framework it would use
/// for nothing else. The config refuses non-loopback addresses (`MetricsSettings`).
public struct MetricsEndpoint: Service {
    public let host: String
    public let port: Int
    private let registry: PrometheusCollectorRegistry
    private let group: any EventLoopGroup
    fileprivate let logger: Logger
    private let onBound: @Sendable (SocketAddress) -> Void

    /// `onBound` is told the bound address (the real port when `port` is 0) once listening.
    public init(
        host: String, port: Int, registry: PrometheusCollectorRegistry = LinkcoreMetricsSystem.registry,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
        onBound: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) {
        self.host = host
        self.port = port
        self.registry = registry
        self.group = group
        self.logger = logger
        self.onBound = onBound
    }

    /// How long a connection may stay silent (Prometheus scrapes every 15-60 s on a new or kept connection).
    static let idleTimeout = TimeAmount.seconds(90)

    /// Binds, serves until the task is cancelled or a graceful shutdown is triggered, then closes.
    public func run() async throws {
        let registry = self.registry
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // A scraper that stops talking is closed: idle connections do not pile up.
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: Self.idleTimeout))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(registry: registry))
                }
            }
            .bind(host: host, port: port).get()
        if let address = channel.localAddress {
            // The log line tells the operator (and the tests) the real port when 0 was asked for.
            logger.info("metrics endpoint listening", metadata: ["address": "\(Self.describe(address))", "path": "/metrics"])
            onBound(address)
        }
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await channel.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            channel.close(promise: nil)
        }
    }

    /// The endpoint as a service that logs a failure (its port taken) instead of ending the
    /// process's ServiceGroup: metrics are for the operator and must not stop the service itself.
    public var loggingFailures: some Service { FailureLoggingEndpoint(endpoint: self) }

    /// `127.0.0.1:9464`, `[::1]:9464`.
    public static func describe(_ address: SocketAddress) -> String {
        let ip = address.ipAddress ?? "?"
        let port = address.port ?? 0
        if case .v6 = address { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }
}

/// One HTTP/1.1 connection of the endpoint. Request bodies are ignored (GET has none).
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private var head: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? head.uri
        let status: HTTPResponseStatus
        var headers = HTTPHeaders()
        let body: String
        if path != "/metrics" {
            status = .notFound
            body = "not found: the metrics are at /metrics\n"
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        } else if head.method != .GET {
            status = .methodNotAllowed
            body = "method not allowed: use GET\n"
            headers.add(name: "Allow", value: "GET")
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        } else {
            status = .ok
            body = LinkcoreMetricsSystem.exposition(of: registry)
            headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
        }
        let keepAlive = head.isKeepAlive
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        let written = context.writeAndFlushAndReturnFuture(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

extension ChannelHandlerContext {
    fileprivate func writeAndFlushAndReturnFuture(_ data: NIOAny) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        writeAndFlush(data, promise: promise)
        return promise.futureResult
    }
}

private struct FailureLoggingEndpoint: Service {
    let endpoint: MetricsEndpoint

    func run() async throws {
        do {
            try await endpoint.run()
        } catch {
            endpoint.logger.error("metrics endpoint failed",
                                  metadata: ["address": "\(endpoint.host):\(endpoint.port)", "error": "\(error)"])
        }
    }
}
