import Foundation
import LinkcoreOCSP
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// OCSP over HTTP (RFC 6960 appendix A, RFC 5019 §5):
/// - `POST` (any path) with `Content-Type: application/ocsp-request` and the DER request as body;
/// - `GET /<url-encoded base64 of the DER request>`, which HTTP caches may keep: `Cache-Control:
///   max-age` never goes past the answer's nextUpdate.
/// Answers are `application/ocsp-response` with HTTP 200, including the OCSP error statuses
/// (malformedRequest for bytes that are not a request): the protocol carries its errors itself.
/// HTTP-level refusals (413 body too large, 415 content type, 405 method) come before any parsing.
///
/// A small NIOHTTP1 server, not Hummingbird (which served it until issue 14's benchmark): Hummingbird 2
/// hands every request from the event loop to a task on the concurrency pool and the answer back
/// (NIOAsyncChannel), two thread wake-ups per request that cost several times the answer itself,
/// kept-alive connection or not (profile and figures in Benchmarks/README.md, "OCSP responder").
/// Here a request is answered on its connection's event loop as soon as its body is complete: the
/// answer is CPU work of tens of microseconds (parse, one indexed read from SQLite in WAL mode,
/// where readers do not wait for the writer, one ECDSA signature), less than a hop to another
/// thread would cost. (A read that SQLite makes wait, e.g. during WAL recovery, holds only that
/// loop, up to the store's busy timeout; the other loops keep answering.)
struct OCSPHTTPServer: Sendable {
    let responder: OCSPResponder
    let maxBodyBytes: Int
    let logger: Logger
    /// A keep-alive connection with no request for this long is closed.
    var idleTimeout: TimeAmount = .seconds(30)

    func application(host: String, port: Int, drainTimeout: Duration,
                     onListening: @escaping @Sendable (Int) async -> Void) -> some Service {
        OCSPHTTPService(server: self, host: host, port: port, drainTimeout: drainTimeout, onListening: onListening)
    }

    /// One HTTP answer: status, headers (without Content-Length, Date and Connection) and body.
    struct Answer: Sendable {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var body: [UInt8]
    }

    /// What the request's head alone decides, before any body is read: 405 for a method other
    /// than GET and POST, 415 for a POST of another content type, 413 for a declared length above
    /// the limit. Nil: read the body and answer.
    func refusal(method: HTTPMethod, headers: HTTPHeaders) -> Answer? {
        switch method {
        case .GET: return nil
        case .POST:
            let type = headers.first(name: "Content-Type")?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            guard type == "application/ocsp-request" else {
                return Self.plain(.unsupportedMediaType, "Content-Type must be application/ocsp-request\n")
            }
            if let length = headers.first(name: "Content-Length").flatMap({ Int($0) }), length > maxBodyBytes {
                return Self.tooLarge(maxBodyBytes)
            }
            return nil
        default:
            var refusal = Self.plain(.methodNotAllowed, "OCSP is POST or GET\n")
            refusal.headers.add(name: "Allow", value: "GET, POST")
            return refusal
        }
    }

    /// The answer to a complete GET, or to a POST (whose head `refusal` accepted) with its body.
    func answer(method: HTTPMethod, uri: String, body: ByteBuffer) -> Answer {
        guard method == .GET else { return Self.ocsp(responder.respond(to: Array(buffer: body)), cacheable: false) }
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        guard let der = Self.requestFromPath(path), der.count <= maxBodyBytes else {
            return Self.ocsp(.failure(.malformedRequest), cacheable: false)
        }
        return Self.ocsp(responder.respond(to: der), cacheable: true)
    }

    /// The path's last part: percent-decoded, then base64 (standard alphabet, as the RFC says;
    /// clients that do not percent-encode '+', '/' and '=' work too, since '/' splits nothing here:
    /// the whole path after the first '/' is the request).
    static func requestFromPath(_ path: String) -> [UInt8]? {
        let encoded = path.drop { $0 == "/" }
        guard !encoded.isEmpty, let decoded = String(encoded).removingPercentEncoding,
              let data = Data(base64Encoded: decoded) else { return nil }
        return Array(data)
    }

    static func ocsp(_ answer: OCSPAnswer, cacheable: Bool) -> Answer {
        var headers: HTTPHeaders = ["Content-Type": "application/ocsp-response"]
        if cacheable, let nextUpdate = answer.nextUpdate {
            // The answer holds until nextUpdate: a cache may keep it that long and no longer.
            let maxAge = max(0, Int(nextUpdate.timeIntervalSinceNow.rounded(.down)))
            headers.add(name: "Cache-Control", value: "max-age=\(maxAge), public, no-transform, must-revalidate")
        } else {
            headers.add(name: "Cache-Control", value: "no-store")
        }
        return Answer(status: .ok, headers: headers, body: answer.der)
    }

    static func plain(_ status: HTTPResponseStatus, _ text: String) -> Answer {
        Answer(status: status, headers: ["Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"], body: Array(text.utf8))
    }

    /// 413, after which the connection is closed: the unread rest of the body is not drained.
    static func tooLarge(_ limit: Int) -> Answer {
        plain(.payloadTooLarge, "request body above \(limit) bytes\n")
    }
}

/// The listener as a service: accepts until graceful shutdown, then stops accepting, lets each
/// connection finish the request in progress (idle keep-alive connections close at once) for up
/// to `drainTimeout`, and closes the rest.
struct OCSPHTTPService: Service {
    let server: OCSPHTTPServer
    let host: String
    let port: Int
    let drainTimeout: Duration
    let onListening: @Sendable (Int) async -> Void

    func run() async throws {
        let connections = OCSPConnections()
        // One listener per event loop on the same port (SO_REUSEPORT: the kernel spreads the
        // connections), each keeping the connections it accepts: a connection lives on the thread
        // that accepted it, with no hand-over to another loop (a thread wake-up per connection,
        // which is what most OCSP clients open per request). Only a process of the same user can
        // share the port.
        var listeners: [any Channel] = []
        do {
            for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() {
                let bound = listeners.first?.localAddress?.port ?? port
                listeners.append(try await listen(on: loop, port: bound, connections: connections))
            }
        } catch {
            for listener in listeners { try? await listener.close() }
            throw error
        }
        await onListening(listeners.first?.localAddress?.port ?? port)
        try? await gracefulShutdown()  // throws only when cancelled: stop then as well
        for listener in listeners { try? await listener.close() }
        let forced = await connections.drain(within: drainTimeout)
        if forced > 0 {
            server.logger.warning("drain timeout: closed remaining connections", metadata: ["connections": "\(forced)"])
        }
    }

    private func listen(on loop: any EventLoop, port: Int, connections: OCSPConnections) async throws -> any Channel {
        let server = self.server
        return try await ServerBootstrap(group: loop, childGroup: loop)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.socketOption(.init(rawValue: SO_REUSEPORT)), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    connections.add(channel)
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(allTimeout: server.idleTimeout))
                    // Pipelining assistance: one request answered at a time, in order; a malformed
                    // request gets 400 and the connection is closed.
                    try sync.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                    try sync.addHandler(OCSPHTTPHandler(server: server))
                }
            }
            .bind(host: host, port: port).get()
    }
}

/// The open connections, to reach them at shutdown.
final class OCSPConnections: Sendable {
    private let open = Mutex<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        open.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in _ = open.withLock { $0.removeValue(forKey: id) } }
    }

    /// Asks every connection to quiesce (NIOHTTP1 closes an idle one now and a busy one after its
    /// response), waits for them until `timeout`, closes what is left and returns how many.
    func drain(within timeout: Duration) async -> Int {
        let channels = open.withLock { Array($0.values) }
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for channel in channels { try? await channel.closeFuture.get() } }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        let left = open.withLock { Array($0.values) }
        for channel in left { try? await channel.close() }
        return left.count
    }
}

/// One connection's requests: the head, the body up to the limit, then the answer written on this
/// event loop. Refusals that the head decides (415, 405) are sent once the request has ended,
/// without keeping its body; a body declared or grown past the limit gets 413 at once and the
/// connection is closed without reading the rest.
final class OCSPHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: OCSPHTTPServer
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    /// The answer the head alone decided (415, 405): the body is not kept.
    private var refusal: OCSPHTTPServer.Answer?
    /// The request has been answered early (413): its remaining parts are ignored.
    private var answeredEarly = false

    init(server: OCSPHTTPServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
            body.clear()
            answeredEarly = false
            refusal = server.refusal(method: request.method, headers: request.headers)
            if refusal?.status == .payloadTooLarge {
                answeredEarly = true
                write(context: context, OCSPHTTPServer.tooLarge(server.maxBodyBytes), version: request.version, keepAlive: false)
            }
        case .body(var part):
            guard !answeredEarly, refusal == nil, let request = head else { return }
            guard body.readableBytes + part.readableBytes <= server.maxBodyBytes else {
                answeredEarly = true
                write(context: context, OCSPHTTPServer.tooLarge(server.maxBodyBytes), version: request.version, keepAlive: false)
                return
            }
            body.writeBuffer(&part)
        case .end:
            guard !answeredEarly, let request = head else { return }
            head = nil
            let answer = refusal ?? server.answer(method: request.method, uri: request.uri, body: body)
            body.clear()
            write(context: context, answer, version: request.version, keepAlive: request.isKeepAlive)
        }
    }

    private func write(context: ChannelHandlerContext, _ answer: OCSPHTTPServer.Answer, version: HTTPVersion, keepAlive: Bool) {
        var headers = answer.headers
        headers.add(name: "Content-Length", value: String(answer.body.count))
        headers.add(name: "Date", value: HTTPDate.now())
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: answer.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: answer.body)))), promise: nil)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset or a protocol error (already answered 400 by NIOHTTP1's handler): nothing to keep.
        context.close(promise: nil)
    }
}

/// The HTTP Date header (RFC 9110 §6.6.1), formatted once per second.
enum HTTPDate {
    private static let cache = Mutex<(second: Int, text: String)>((0, ""))

    static func now() -> String {
        let second = Int(Date().timeIntervalSince1970)
        return cache.withLock { cached in
            if cached.second != second {
                var time = time_t(second)
                var parts = tm()
                gmtime_r(&time, &parts)
                var text = [CChar](repeating: 0, count: 40)
                let length = strftime(&text, text.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
                cached = (second, String(decoding: text.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            return cached.text
        }
    }
}
