import LinkcoreTLS
import LinkcoreWire
import NIOCore

/// Requests the core starts (ProvideRequest, LinkIssued, ChangeEvent) are answered by this.
public typealias IncomingRequestHandler = @Sendable (LCEnvelope) async -> Result<LCEnvelope.OneOf_Body, WireError>

/// The client end of a connection: numbers requests, matches replies by id (in any order),
/// answers requests the core starts, and remembers why the connection ended.
final class ClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = LCEnvelope

    private var context: ChannelHandlerContext?
    private var nextID: UInt64 = 1
    private var pending: [UInt64: EventLoopPromise<LCEnvelope>] = [:]
    private let incoming: IncomingRequestHandler?
    /// The last connection-level refusal (Error with id 0) or transport failure.
    private(set) var closeReason: (any Error)?
    private(set) var goingAway: LCGoingAway?
    private(set) var serverIdentity: PeerIdentity?

    init(incoming: IncomingRequestHandler?) {
        self.incoming = incoming
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    /// Sends a request and returns the future of its reply envelope (an Error reply fails it).
    func start(_ body: LCEnvelope.OneOf_Body, promise: EventLoopPromise<LCEnvelope>, timeout: TimeAmount?) {
        guard let context, context.channel.isActive else {
            promise.fail(closeReason ?? WireError(.unavailable, "the connection is closed"))
            return
        }
        let id = nextID
        nextID += 1
        pending[id] = promise
        var envelope = LCEnvelope()
        envelope.id = id
        envelope.body = body
        context.writeAndFlush(wrapOutboundOut(envelope), promise: nil)
        if let timeout {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: timeout) {
                bound.value.pending.removeValue(forKey: id)?
                    .fail(WireError(.deadlineExceeded, "no reply within \(timeout.nanoseconds / 1_000_000) ms"))
            }
        }
    }

    /// Writes bytes below the envelope layer: for tests of the core's handling of bad frames.
    func writeRaw(_ buffer: ByteBuffer) {
        guard let context else { return }
        // Skip our own EnvelopeWriter: write from the context below it.
        context.channel.pipeline.context(handlerType: EnvelopeWriter.self).whenSuccess { writerContext in
            writerContext.writeAndFlush(NIOAny(buffer), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let envelope = try? LCEnvelope(frame: unwrapInboundIn(data)) else {
            closeReason = WireError(.malformedMessage, "the core sent a frame that is not an Envelope")
            context.close(promise: nil)
            return
        }
        switch envelope.body {
        case let .error(error)? where envelope.id == 0:
            closeReason = WireError(error)
            if error.code.closesConnection { failAll(WireError(error)) }
        case let .goingAway(goingAway)?:
            self.goingAway = goingAway
        case .provide?, .linkIssued?, .changeEvent?:
            answerIncoming(envelope, context: context)
        case let .error(error)?:
            pending.removeValue(forKey: envelope.id)?.fail(WireError(error))
        default:
            pending.removeValue(forKey: envelope.id)?.succeed(envelope)
        }
    }

    private func answerIncoming(_ request: LCEnvelope, context: ChannelHandlerContext) {
        let channel = context.channel
        guard let incoming else {
            channel.writeAndFlush(
                WireError(.unknownMessage, "this client does not accept \(request.bodyName)").envelope(id: request.id), promise: nil)
            return
        }
        Task {
            var reply = LCEnvelope()
            reply.id = request.id
            switch await incoming(request) {
            case let .success(body): reply.body = body
            case let .failure(error): reply.error = error.proto
            }
            try? await channel.writeAndFlush(reply)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case let .handshakeCompleted(identity) = event as? TLSEvent {
            serverIdentity = identity
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if closeReason == nil {
            closeReason = (error as? FrameError)?.wireError ?? error
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(closeReason ?? WireError(.unavailable, "the connection closed"))
        self.context = nil
        context.fireChannelInactive()
    }

    private func failAll(_ error: any Error) {
        let waiting = pending
        pending.removeAll()
        for promise in waiting.values { promise.fail(error) }
    }
}
