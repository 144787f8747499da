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
    /// Ids, pending requests and their deadlines: the same multiplexer as the core's session.
    private var requests = RequestMultiplexer<Waiting>()
    private var timer = EarliestDeadlineTimer()
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
        let deadline = timeout.map { NIODeadline.now() + $0 }
        let id = requests.start(Waiting(promise: promise, timeout: timeout), deadline: deadline)
        var envelope = LCEnvelope()
        envelope.id = id
        envelope.body = body
        context.writeAndFlush(wrapOutboundOut(envelope), promise: nil)
        if let deadline { armTimer(at: deadline, context: context) }
    }

    /// One timer for every request, never later than the first deadline: O(1) per request; the
    /// pending table is scanned only when it fires (`earliestDeadline`).
    private func armTimer(at deadline: NIODeadline?, context: ChannelHandlerContext) {
        guard let next = deadline ?? requests.earliestDeadline else { return }
        timer.arm(at: next, on: context.eventLoop) { self.timerFired() }
    }

    private func timerFired() {
        timer.reset()
        for (_, waiting) in requests.expire(now: .now()) {
            let ms = (waiting.timeout?.nanoseconds ?? 0) / 1_000_000
            waiting.promise.fail(WireError(.deadlineExceeded, "no reply within \(ms) ms"))
        }
        if let context { armTimer(at: nil, context: context) }
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
        if case let .error(error)? = envelope.body, envelope.id == 0 {
            closeReason = WireError(error)
            if error.code.closesConnection { failAll(WireError(error)) }
            return
        }
        // Which bodies are requests, replies or notices: LinkcoreWire's one table.
        switch envelope.body?.category {
        case .notice?:
            if case let .goingAway(goingAway)? = envelope.body { self.goingAway = goingAway }
        case .coreRequest?:
            answerIncoming(envelope, context: context)
        case .peerRequest?, .adminOnlyRequest?, .operatorAndMatcherRequest?, .nodeRequest?:
            // A core never sends these; answered, never taken for the reply to one of ours.
            context.writeAndFlush(wrapOutboundOut(
                WireError(.unknownMessage, "this client does not accept \(envelope.bodyName)").envelope(id: envelope.id)), promise: nil)
        case .reply?, nil:
            let waiting = requests.complete(envelope.id)
            if case let .error(error)? = envelope.body {
                waiting?.promise.fail(WireError(error))
            } else {
                waiting?.promise.succeed(envelope)
            }
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
        timer.reset()
        failAll(closeReason ?? WireError(.unavailable, "the connection closed"))
        self.context = nil
        context.fireChannelInactive()
    }

    private func failAll(_ error: any Error) {
        for (_, waiting) in requests.removeAll() { waiting.promise.fail(error) }
    }
}

/// A request this client sent and waits for.
private struct Waiting {
    var promise: EventLoopPromise<LCEnvelope>
    var timeout: TimeAmount?
}
