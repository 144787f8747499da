import Foundation
import LinkcoreTLS
import LinkcoreWire
import Logging
import NIOCore

/// One peer connection on the core: TLS outcome, Hello, then requests multiplexed by id.
///
/// A thin NIO shell around `SessionStateMachine`: it feeds the machine the channel's events and
/// performs the actions it returns (writes, closes, the service's calls, metrics). Runs entirely
/// on the channel's event loop. Replies written during a read burst are flushed once at its end;
/// a peer that does not read its replies stops being read from (writability), so the core never
/// buffers without bound for it. One timer serves every deadline the machine keeps.
public final class ServerConnectionHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = LCEnvelope
    public typealias OutboundOut = LCEnvelope

    typealias Machine = SessionStateMachine<SystemSessionClock, EventLoopPromise<LCEnvelope>>

    private let env: ConnectionEnvironment
    private var logger: Logger
    private var machine: Machine
    private var context: ChannelHandlerContext?
    private var batch = MetricsBatch()
    private var requestsSinceReport: UInt64 = 0
    private var timer = EarliestDeadlineTimer()
    /// The source address counted at accept; nil when the socket was refused there.
    private var acceptedAddress: String?

    public init(environment: ConnectionEnvironment) {
        self.env = environment
        self.logger = environment.logger
        self.machine = Machine(coreID: environment.coreID, limits: environment.limits, clock: SystemSessionClock())
    }

    // MARK: lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    public func channelActive(context: ChannelHandlerContext) {
        env.metrics.connectionOpened()
        if let remote = context.remoteAddress { logger[metadataKey: "remote"] = "\(remote)" }
        let channel = context.channel
        let address = ConnectionRegistry.sourceAddress(channel)
        if let refusal = env.registry.accept(channel, address: address) {
            // Before TLS nothing can be said to the peer: the socket is closed at once, so a
            // flood of bare connections costs a file descriptor for microseconds, not seconds.
            machine.refusedAtAccept()
            logger.debug("connection refused at accept", metadata: ["reason": "\(refusal)"])
            context.close(promise: nil)
            return
        }
        acceptedAddress = address
        if let deadline = machine.accepted() { armTimer(at: deadline) }
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        timer.forget()  // if it fires, `context` is nil and it does nothing
        reportMetrics()
        env.metrics.connectionClosed()
        let outcome = machine.channelInactive()
        if outcome.wasAdmitted { env.registry.remove(context.channel) }
        if let acceptedAddress { env.registry.release(context.channel, address: acceptedAddress) }
        acceptedAddress = nil
        if outcome.droppedInFlight > 0 {
            logger.debug("connection closed with requests in flight", metadata: ["in_flight": "\(outcome.droppedInFlight)"])
            batch.inFlightDelta -= outcome.droppedInFlight
            reportMetrics()
        }
        for waiter in outcome.coreWaiters {
            waiter.fail(WireError(.unavailable, "the peer's connection closed"))
        }
        self.context = nil
        context.fireChannelInactive()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let tls as TLSEvent:
            switch tls {
            case let .handshakeCompleted(identity):
                if let org = identity?.orgCode { logger[metadataKey: "org"] = "\(org)" }
                perform(machine.handshakeCompleted(identity))
            case let .peerRejected(reason):
                env.metrics.handshakeFailed()
                let reason = PeerText.safe("\(reason)", max: 200)  // may quote the peer's certificate
                logger.warning("client certificate rejected", metadata: ["reason": "\(reason)"])
                refuse(WireError(.certificateRejected, "client certificate rejected: \(reason)"), id: 0)
            }
        case let idle as IdleStateHandler.IdleStateEvent where idle == .read:
            logger.info("closing idle connection")
            refuse(WireError(.idleTimeout, "no traffic for \(env.limits.idleTimeout.nanoseconds / 1_000_000) ms"), id: 0)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    public func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        switch event {
        case let drain as DrainEvent:
            promise?.succeed()
            startDrain(drainMs: drain.drainMs)
        case let request as CoreRequestEvent:
            promise?.succeed()
            startCoreRequest(request, context: context)
        case let end as EndSessionEvent:
            promise?.succeed()
            logger.info("session ended by the core", metadata: ["error": "\(end.error)"])
            refuse(end.error, id: 0)
        default:
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    private func startCoreRequest(_ request: CoreRequestEvent, context: ChannelHandlerContext) {
        switch machine.startCoreRequest(request.body, timeout: request.timeout, waiter: request.promise,
                                         channelWritable: context.channel.isWritable) {
        case let .fail(waiter, error):
            waiter.fail(error)
        case let .send(envelope, deadline):
            armTimer(at: deadline)
            send(envelope)
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case let frameError as FrameError:
            logger.warning("bad frame from peer", metadata: ["error": "\(frameError.wireError)"])
            refuse(frameError.wireError, id: 0)
        case TLSError.uncleanShutdown:
            logger.debug("peer closed without close_notify")
            context.close(promise: nil)
        default:
            logger.info("connection error", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    // MARK: timers

    /// Schedules the one timer at `deadline`, unless it already fires earlier: the timer never
    /// fires later than the machine's first deadline. A deadline that goes away (a Hello
    /// admitted, a request answered) leaves the timer as it is: it fires, finds nothing due and
    /// is armed for what is next (`machine.nextDeadline`, the only full scan).
    private func armTimer(at deadline: NIODeadline? = nil) {
        guard let next = deadline ?? machine.nextDeadline, let context else { return }
        timer.arm(at: next, on: context.eventLoop) { self.timerFired() }
    }

    private func timerFired() {
        timer.forget()
        guard let context else { return }
        let outcome = machine.timerFired()
        for waiter in outcome.expired {
            waiter.fail(WireError(.deadlineExceeded, "the peer did not answer in time"))
        }
        switch outcome.close {
        case .handshakeTimeout?:
            logger.info("closing connection: TLS handshake and Hello not completed in time")
            context.close(promise: nil)
        case .closeTimeout?:
            // The refusal could not leave (the peer does not read): the peer is evicted anyway.
            context.close(promise: nil)
        case .writeStalled?:
            let buffered = (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
            logger.warning("closing connection: the peer has not read its replies for write_stall_timeout_ms",
                           metadata: ["reason": "write_stalled", "buffered_bytes": "\(buffered)",
                                      "write_stall_timeout_ms": "\(env.limits.writeStallTimeout.nanoseconds / 1_000_000)"])
            context.close(promise: nil)
        case nil:
            if !outcome.expired.isEmpty { closeIfDrained() }
        }
        armTimer()
    }

    // MARK: reading

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let action: Machine.ReceiveAction
        do {
            let envelope = try LCEnvelope(frame: unwrapInboundIn(data))
            let service = env.service
            action = machine.envelopeReceived(envelope) { service.admit(orgCode: $0) }
        } catch {
            batch.errors.append(.malformedMessage)
            action = machine.malformedFrame("\(error)")
        }
        switch action {
        case .none:
            break
        case let .refuse(refusal):
            switch refusal.cause {
            case .orgClaimMismatch:
                logger.warning("Hello claims another organisation", metadata: ["error": "\(refusal.error)"])
            case .noLongerAdmitted:
                logger.info("session ended: the organisation is no longer admitted", metadata: ["error": "\(refusal.error)"])
            case .other:
                break
            }
            perform(refusal)
        case let .reportError(error):
            send(error.envelope(id: 0))
        case let .admitHello(check):
            admit(check)
        case let .answer(id, result):
            answer(id, result, started: nil)
        case let .serve(envelope, peer):
            batch.inFlightDelta += 1
            env.service.handle(envelope, from: peer, reply: makeReply(id: envelope.id))
        case let .completeCoreRequest(waiter, envelope):
            waiter.succeed(envelope)
            closeIfDrained()
        case let .droppedProviderReply(envelope):
            // A provider's answer after the deadline, or its second answer: never relayed.
            env.metrics.droppedProviderReply()
            logger.debug("late or second provider answer dropped", metadata: ["body": "\(envelope.bodyName)", "id": "\(envelope.id)"])
        case let .unsolicitedReply(envelope):
            logger.debug("unsolicited reply ignored", metadata: ["body": "\(envelope.bodyName)", "id": "\(envelope.id)"])
        case .peerGoingAway:
            logger.info("peer is going away")
            closeIfDrained()
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        if machine.readBurstEnded() {
            context.flush()
            checkOutbound(context: context)
        }
        reportMetrics()
        context.fireChannelReadComplete()
    }

    /// Hello passed the protocol's checks: the service and the registry admit the session.
    private func admit(_ check: Machine.HelloCheck) {
        let role: LCRole
        switch env.service.admit(orgCode: check.orgCode) {
        case let .success(r): role = r
        case let .failure(error): return refuse(error, id: check.id)
        }
        guard let context else { return }
        if let limitHit = env.registry.admit(context.channel, orgCode: check.orgCode, acceptsPushes: check.hello.acceptsPushes,
                                             certificateSerial: check.identity.serialHex) {
            return refuse(limitHit, id: check.id)
        }
        guard let session = machine.helloAdmitted(check, role: role) else { return }
        logger.info("session started", metadata: ["software": "\(PeerText.safe(check.hello.software))", "version": "\(check.version)"])
        send(session.welcome)
        env.service.sessionStarted(session.peer, channel: context.channel, acceptsPushes: check.hello.acceptsPushes)
    }

    // MARK: replying

    private func makeReply(id: UInt64) -> Reply {
        guard let context else { return Reply { _ in } }
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        return Reply { result in
            if loop.inEventLoop {
                bound.value.complete(id, result)
            } else {
                loop.execute { bound.value.complete(id, result) }
            }
        }
    }

    private func complete(_ id: UInt64, _ result: Result<LCEnvelope.OneOf_Body, WireError>) {
        switch machine.requestCompleted(id) {
        case let .notInFlight(closed):
            // After a close the connection's requests are gone; otherwise this is a bug.
            if !closed { logger.error("a request was answered twice", metadata: ["id": "\(id)"]) }
        case let .answer(started):
            batch.inFlightDelta -= 1
            answer(id, result, started: started)
            if !machine.inReadBurst {
                reportMetrics()
            }
            closeIfDrained()
        }
    }

    private func answer(_ id: UInt64, _ result: Result<LCEnvelope.OneOf_Body, WireError>, started: NIODeadline?) {
        var reply = LCEnvelope()
        reply.id = id
        switch result {
        case let .success(body):
            reply.body = body
        case let .failure(error):
            batch.errors.append(error.code)
            reply.error = error.proto
        }
        if let started {
            batch.latenciesMicros.append(UInt64(max(0, (machine.clock.now() - started).nanoseconds / 1000)))
        } else {
            batch.untimed += 1
        }
        requestsSinceReport += 1
        send(reply)
    }

    private func send(_ envelope: LCEnvelope) {
        guard let context else { return }
        context.write(wrapOutboundOut(envelope), promise: nil)
        if machine.wrote() {
            context.flush()
            checkOutbound(context: context)
        }
    }

    /// Closes a connection whose peer leaves more than `maxOutboundBytes` unread.
    private func checkOutbound(context: ChannelHandlerContext) {
        guard let buffered = try? context.channel.syncOptions?.getOption(.bufferedWritableBytes),
              machine.outboundBuffered(buffered) else { return }
        logger.warning("closing connection: the peer does not read", metadata: ["buffered_bytes": "\(buffered)"])
        context.close(promise: nil)
    }

    /// Sends a typed refusal and closes: the peer can read why before the connection ends.
    private func refuse(_ error: WireError, id: UInt64) {
        guard context != nil else { return }
        perform(machine.refuse(error, id: id))
    }

    private func perform(_ refusal: Machine.Refusal?) {
        guard let refusal, let context else { return }
        batch.errors.append(refusal.error.code)
        // The refusal may never leave if the peer does not read: the machine's close deadline
        // (closeTimeout) closes the connection anyway.
        armTimer(at: refusal.closeDeadline)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(refusal.envelope)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    // MARK: drain and backpressure

    private func startDrain(drainMs: UInt32) {
        guard let context else { return }
        switch machine.drain(drainMs: drainMs) {
        case .none:
            break
        case .close:
            context.close(promise: nil)
        case let .goingAway(envelope):
            send(envelope)
            armTimer()  // the core's own requests now end before the drain does
            closeIfDrained()
        }
    }

    private func closeIfDrained() {
        guard case let .close(flushFirst) = machine.closeIfDrained(), let context else { return }
        if flushFirst { context.flush() }
        context.close(promise: nil)
    }

    public func read(context: ChannelHandlerContext) {
        if machine.readRequested(channelWritable: context.channel.isWritable) {
            context.read()
        }
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if machine.writabilityChanged(channelWritable: context.channel.isWritable) {
            context.read()
        }
        if let deadline = machine.writeStallDeadline { armTimer(at: deadline) }
        context.fireChannelWritabilityChanged()
    }

    private func reportMetrics() {
        env.metrics.record(&batch)
        if machine.admitted, requestsSinceReport > 0, let context {
            env.registry.update(context.channel, requests: requestsSinceReport, inFlight: machine.inFlightCount)
            requestsSinceReport = 0
        }
    }
}
