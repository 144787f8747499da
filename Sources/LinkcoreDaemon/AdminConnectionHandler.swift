import LinkcoreWire
import Logging
import NIOCore

/// Operator requests on the local admin socket. The socket file is 0600 in a 0700 directory,
/// so only the daemon's own user (and root) can connect; no TLS or Hello is needed there.
public protocol AdminHandling: Sendable {
    func handle(_ request: LCEnvelope) async -> Result<LCEnvelope.OneOf_Body, WireError>
}

final class AdminConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = LCEnvelope

    private let admin: any AdminHandling
    private let logger: Logger

    init(admin: any AdminHandling, logger: Logger) {
        self.admin = admin
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let channel = context.channel
        guard let request = try? LCEnvelope(frame: unwrapInboundIn(data)) else {
            channel.writeAndFlush(WireError(.malformedMessage, "frame is not a valid Envelope").envelope(id: 0), promise: nil)
            return
        }
        let admin = self.admin
        let promise = context.eventLoop.makePromise(of: LCEnvelope.self)
        promise.completeWithTask {
            var reply = LCEnvelope()
            reply.id = request.id
            switch await admin.handle(request) {
            case let .success(body): reply.body = body
            case let .failure(error): reply.error = error.proto
            }
            return reply
        }
        promise.futureResult.whenSuccess { reply in channel.writeAndFlush(reply, promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("admin connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}
