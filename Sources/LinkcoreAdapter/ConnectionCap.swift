import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// `[api] max_connections`: open connections at once, shared by every connection's handler.
final class ConnectionCap: Sendable {
    let limit: Int
    private let open = Atomic<Int>(0)
    init(limit: Int) { self.limit = limit }

    /// Counts a new connection; false when it is one too many (it is counted all the same, and
    /// `release` is called for it when it closes).
    func admit() -> Bool { open.add(1, ordering: .relaxed).newValue <= limit }
    func release() { open.subtract(1, ordering: .relaxed) }
}

/// Answers a connection over `max_connections` with 503 TOO_MANY_CONNECTIONS and closes it,
/// without parsing anything it sent; counts the others in and out. Sits in Hummingbird's HTTP/1
/// pipeline (`additionalChannelHandlers`), so the refusal is written below the HTTP codec, as
/// raw bytes, at the response encoder's place in the pipeline.
final class ConnectionCapHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny

    let cap: ConnectionCap
    private var counted = false
    private var refused = false

    init(cap: ConnectionCap) { self.cap = cap }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context)
        if !refused { context.fireChannelActive() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted { cap.release(); counted = false }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !refused { context.fireChannelRead(data) }
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard !counted else { return }
        counted = true
        guard !cap.admit() else { return }
        refused = true
        let failure = APIFailure(.serviceUnavailable, "TOO_MANY_CONNECTIONS",
                                 "the local API has \(cap.limit) connections open; retry later", retryable: true).closing
        let body = failure.json
        let head = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n"
            + "Cache-Control: no-store\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        var buffer = context.channel.allocator.buffer(capacity: head.utf8.count + body.count)
        buffer.writeString(head)
        buffer.writeBytes(body)
        let channel = context.channel
        guard let encoder = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self) else {
            channel.close(promise: nil)
            return
        }
        encoder.writeAndFlush(NIOAny(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }
}
