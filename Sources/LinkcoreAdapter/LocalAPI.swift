import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The organisation's local HTTP/JSON API (HTTP/1.1 on NIOHTTP1), bound to 127.0.0.1 by default:
/// the organisation's own systems call it; it has no authentication of its own, so it must not
/// be exposed beyond the host (or a network the organisation controls). Routes: `APIRouter`.
public final class LocalAPI: Sendable {
    let channel: any Channel
    public var port: Int { channel.localAddress?.port ?? 0 }

    public static func start(host: String, port: Int, maxBodyBytes: Int, router: APIRouter) async throws -> LocalAPI {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(HTTPAPIHandler(router: router, maxBodyBytes: maxBodyBytes))
                }
            }
            .bind(host: host, port: port).get()
        return LocalAPI(channel: channel)
    }

    private init(channel: any Channel) { self.channel = channel }

    public func close() async { try? await channel.close() }
}

/// Collects one request (head, body up to the limit, end), lets the router answer it in a
/// task, and writes the response. Requests on one connection are answered one at a time.
final class HTTPAPIHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let router: APIRouter
    let maxBodyBytes: Int
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var tooLarge = false

    init(router: APIRouter, maxBodyBytes: Int) {
        self.router = router
        self.maxBodyBytes = maxBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(head):
            self.head = head
            body.clear()
            tooLarge = false
        case var .body(part):
            if body.readableBytes + part.readableBytes > maxBodyBytes { tooLarge = true } else { body.writeBuffer(&part) }
        case .end:
            guard let head else { return }
            self.head = nil
            let request = APIRequest(method: head.method.rawValue, uri: head.uri, body: Data(body.readableBytesView))
            let keepAlive = head.isKeepAlive && !tooLarge
            Self.respond(to: request, tooLarge: tooLarge, keepAlive: keepAlive, router: router, maxBodyBytes: maxBodyBytes,
                         channel: context.channel)
        }
    }

    /// Answers off the event loop (the router awaits the core and the store), then writes back.
    static func respond(to request: APIRequest, tooLarge: Bool, keepAlive: Bool, router: APIRouter, maxBodyBytes: Int,
                        channel: any Channel) {
        Task {
            let response = tooLarge
                ? APIResponse.error(413, code: "PAYLOAD_TOO_LARGE", "request body above \(maxBodyBytes) bytes")
                : await router.handle(request)
            write(response, on: channel, keepAlive: keepAlive)
        }
    }

    static func write(_ response: APIResponse, on channel: any Channel, keepAlive: Bool) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        headers.add(name: "Cache-Control", value: "no-store")
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
