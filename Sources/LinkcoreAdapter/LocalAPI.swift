import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The organisation's local HTTP/JSON API (HTTP/1.1 on NIOHTTP1), bound to 127.0.0.1 by default.
/// Routes: `APIRouter`. A web page in a browser on the same host can reach a loopback port, so
/// every request is checked before a route sees it (`APIGuard`): the Host header must name this
/// listener (DNS rebinding), a bearer token from a 0600 file must be presented, a body must be
/// JSON (a browser sends text/plain and forms without a CORS preflight). Connections are capped
/// and an idle one is closed.
public final class LocalAPI: Sendable {
    public struct Limits: Sendable {
        public var maxBodyBytes: Int
        public var maxConnections: Int
        public var idleTimeoutMs: Int64
        public init(maxBodyBytes: Int, maxConnections: Int, idleTimeoutMs: Int64) {
            self.maxBodyBytes = maxBodyBytes; self.maxConnections = maxConnections; self.idleTimeoutMs = idleTimeoutMs
        }
    }

    let channel: any Channel
    public var port: Int { channel.localAddress?.port ?? 0 }

    public static func start(host: String, port: Int, token: String, limits: Limits, router: APIRouter) async throws -> LocalAPI {
        let open = APICounter()
        let guardBox = GuardBox()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let admitted = open.value.add(1, ordering: .relaxed).newValue <= limits.maxConnections
                channel.closeFuture.whenComplete { _ in open.value.subtract(1, ordering: .relaxed) }
                return channel.eventLoop.makeCompletedFuture {
                    guard admitted, let apiGuard = guardBox.value else {
                        try channel.pipeline.syncOperations.addHandler(RefuseConnectionHandler(limit: limits.maxConnections))
                        return
                    }
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .milliseconds(limits.idleTimeoutMs)))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPAPIHandler(router: router, maxBodyBytes: limits.maxBodyBytes, apiGuard: apiGuard))
                }
            }
            .bind(host: host, port: port).get()
        // The allowed Host values name the port actually bound (port 0 in tests).
        guardBox.value = APIGuard(token: token, listenHost: host, port: channel.localAddress?.port ?? port)
        return LocalAPI(channel: channel)
    }

    private init(channel: any Channel) { self.channel = channel }

    public func close() async { try? await channel.close() }
}

/// A shared count (open connections; requests read and not yet answered on one connection).
final class APICounter: Sendable {
    let value = Atomic<Int>(0)
}

/// Set once, right after bind; a connection accepted before that is refused.
final class GuardBox: Sendable {
    private let stored = Mutex<APIGuard?>(nil)
    var value: APIGuard? {
        get { stored.withLock { $0 } }
        set { stored.withLock { $0 = newValue } }
    }
}

/// Answers a connection over `max_connections` with 503 and closes it, without parsing anything.
final class RefuseConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let limit: Int
    init(limit: Int) { self.limit = limit }

    func channelActive(context: ChannelHandlerContext) {
        let body = APIResponse.error(503, code: "TOO_MANY_CONNECTIONS", "the local API has \(limit) connections open; retry later",
                                     retryable: true).body
        let text = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n"
            + "Retry-After: 1\r\nConnection: close\r\n\r\n"
        var buffer = context.channel.allocator.buffer(string: text)
        buffer.writeBytes(body)
        let channel = context.channel
        context.writeAndFlush(NIOAny(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

/// Collects one request (head, body up to the limit, end), lets the router answer it in a
/// task, and writes the response. Requests on one connection are answered one at a time.
final class HTTPAPIHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let router: APIRouter
    let maxBodyBytes: Int
    let apiGuard: APIGuard
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var tooLarge = false
    private var refusal: APIResponse?
    /// Requests read and not yet answered: an idle read timer does not close while one waits.
    private let answering = APICounter()

    init(router: APIRouter, maxBodyBytes: Int, apiGuard: APIGuard) {
        self.router = router
        self.maxBodyBytes = maxBodyBytes
        self.apiGuard = apiGuard
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(head):
            self.head = head
            body.clear()
            tooLarge = false
            refusal = apiGuard.refusal(head)
        case var .body(part):
            guard refusal == nil else { return }  // not kept: a refused request's body is not read
            if body.readableBytes + part.readableBytes > maxBodyBytes { tooLarge = true } else { body.writeBuffer(&part) }
        case .end:
            guard let head else { return }
            self.head = nil
            let request = APIRequest(method: head.method.rawValue, uri: head.uri, body: Data(body.readableBytesView))
            // A refused request closes its connection: what follows it on the wire is not trusted.
            let keepAlive = head.isKeepAlive && !tooLarge && refusal == nil
            answering.value.add(1, ordering: .relaxed)
            Self.respond(to: request, refusal: refusal, tooLarge: tooLarge, keepAlive: keepAlive, router: router,
                         maxBodyBytes: maxBodyBytes, channel: context.channel, answering: answering)
            refusal = nil
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // Idle: nothing arrived for idle_timeout_ms and no request is waiting for its answer.
        if head == nil && answering.value.load(ordering: .relaxed) == 0 { context.close(promise: nil) }
    }

    /// Answers off the event loop (the router awaits the core and the store), then writes back.
    static func respond(to request: APIRequest, refusal: APIResponse?, tooLarge: Bool, keepAlive: Bool, router: APIRouter,
                        maxBodyBytes: Int, channel: any Channel, answering: APICounter) {
        let response: APIResponse? = refusal
            ?? (tooLarge ? APIResponse.error(413, code: "PAYLOAD_TOO_LARGE", "request body above \(maxBodyBytes) bytes") : nil)
        Task {
            let answer: APIResponse
            if let response { answer = response } else { answer = await router.handle(request) }
            write(answer, on: channel, keepAlive: keepAlive)
            answering.value.subtract(1, ordering: .relaxed)
        }
    }

    static func write(_ response: APIResponse, on channel: any Channel, keepAlive: Bool) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        headers.add(name: "Cache-Control", value: "no-store")
        if response.status == 401 { headers.add(name: "WWW-Authenticate", value: "Bearer") }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: response.body))), promise: nil)
        channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}

public struct APIRequest: Sendable {
    public var method: String
    public var uri: String
    public var body: Data

    var path: String { URLComponents(string: uri)?.path ?? uri }
    func query(_ name: String) -> String? {
        URLComponents(string: uri)?.queryItems?.first { $0.name == name }?.value
    }
}

public struct APIResponse: Sendable {
    public var status: Int
    public var body: Data
    public var contentType = "application/json"

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static func json(_ status: Int, _ value: some Encodable) -> APIResponse {
        APIResponse(status: status, body: (try? encoder.encode(value)) ?? Data("{}".utf8))
    }

    struct ErrorBody: Encodable {
        struct Detail: Encodable {
            var code: String
            var number: Int?
            var message: String
            var providerCode: String?
            var retryable: Bool
        }
        var error: Detail
    }

    static func error(_ status: Int, code: String, _ message: String, number: Int? = nil, providerCode: String? = nil, retryable: Bool = false) -> APIResponse {
        json(status, ErrorBody(error: .init(code: code, number: number, message: message, providerCode: providerCode, retryable: retryable)))
    }
}
