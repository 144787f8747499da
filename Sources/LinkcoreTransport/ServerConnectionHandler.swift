import Foundation
import LinkcoreTLS
import LinkcoreWire
import Logging
import NIOCore

/// Everything a server connection needs from its process, shared by all its connections.
public struct ConnectionEnvironment: Sendable {
    public var coreID: String
    public var limits: ConnectionLimits
    public var service: any RequestHandling
    public var metrics: Metrics
    public var registry: ConnectionRegistry
    public var logger: Logger

    public init(coreID: String, limits: ConnectionLimits, service: any RequestHandling, metrics: Metrics,
                registry: ConnectionRegistry, logger: Logger) {
        self.coreID = coreID; self.limits = limits; self.service = service
        self.metrics = metrics; self.registry = registry; self.logger = logger
    }
}

/// Asks a connection to drain: say GoingAway, finish what is in flight, then close.
public struct DrainEvent: Sendable {
    public var drainMs: UInt32
    public init(drainMs: UInt32) { self.drainMs = drainMs }
}

/// Ends a session at once: the error (id 0) is sent, then the connection is closed. Used when
/// the organisation is suspended or its certificate revoked while the session is open.
public struct EndSessionEvent: Sendable {
    public var error: WireError
    public init(error: WireError) { self.error = error }
}

/// Asks a connection to send a request the core starts (ProvideRequest, LinkIssued,
/// ChangeEvent) and to complete `promise` with the peer's reply envelope (which may be an Error).
public struct CoreRequestEvent: Sendable {
    public var body: LCEnvelope.OneOf_Body
    public var timeout: TimeAmount
    public var promise: EventLoopPromise<LCEnvelope>
    public init(body: LCEnvelope.OneOf_Body, timeout: TimeAmount, promise: EventLoopPromise<LCEnvelope>) {
        self.body = body; self.timeout = timeout; self.promise = promise
    }
}

/// One peer connection on the core: TLS outcome, Hello, then requests multiplexed by id.
///
/// Runs entirely on the channel's event loop. Replies written during a read burst are flushed
/// once at its end; a peer that does not read its replies stops being read from (writability),
/// so the core never buffers without bound for it.
public final class ServerConnectionHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = LCEnvelope
    public typealias OutboundOut = LCEnvelope

    private enum Phase {
        case handshaking
        case awaitingHello(PeerIdentity, orgCode: String)
        case active(Peer)
        case closing
    }

    private let env: ConnectionEnvironment
    private var logger: Logger
    private var phase = Phase.handshaking
    private var context: ChannelHandlerContext?
    private var inFlight: [UInt64: NIODeadline] = [:]
    private var admitted = false
    private var draining = false
    private var inReadBurst = false
    private var needsFlush = false
    private var readPending = false
    private var batch = MetricsBatch()
    private var requestsSinceReport: UInt64 = 0
    private var handshakeTimer: Scheduled<Void>?
    /// The source address counted at accept; nil when the socket was refused there.
    private var acceptedAddress: String?
    private var coreNextID: UInt64 = 1
    /// Requests the core started on this connection and waits for: they count as in flight, so
    /// a drain keeps the connection open until they are answered or their deadline passes.
    private var corePending: [UInt64: CorePending] = [:]
    /// Recent ProvideRequests that were answered or timed out: one more reply to one of them is a
    /// late or second provider answer (counted), anything else is an unsolicited reply (not).
    private var finishedProvides = RecentIDs(capacity: 1024)

    public init(environment: ConnectionEnvironment) {
        self.env = environment
        self.logger = environment.logger
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
            phase = .closing
            logger.debug("connection refused at accept", metadata: ["reason": "\(refusal)"])
            context.close(promise: nil)
            return
        }
        acceptedAddress = address
        let logger = self.logger
        handshakeTimer = context.eventLoop.scheduleTask(in: env.limits.handshakeTimeout) {
            logger.info("closing connection: TLS handshake and Hello not completed in time")
            channel.close(promise: nil)
        }
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        reportMetrics()
        env.metrics.connectionClosed()
        if admitted { env.registry.remove(context.channel) }
        if let acceptedAddress { env.registry.release(context.channel, address: acceptedAddress) }
        acceptedAddress = nil
        if !inFlight.isEmpty {
            logger.debug("connection closed with requests in flight", metadata: ["in_flight": "\(inFlight.count)"])
            batch.inFlightDelta -= inFlight.count
            inFlight.removeAll()
            reportMetrics()
        }
        phase = .closing
        let waiting = corePending
        corePending.removeAll()
        for (_, entry) in waiting {
            entry.timer?.cancel()
            entry.promise.fail(WireError(.unavailable, "the peer's connection closed"))
        }
        self.context = nil
        context.fireChannelInactive()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let tls as TLSEvent:
            switch tls {
            case let .handshakeCompleted(identity):
                guard let identity, let org = identity.orgCode else {
                    return refuse(WireError(.certificateRejected, "client certificate rejected: \(CertificateRejection.noOrganisation)"), id: 0)
                }
                logger[metadataKey: "org"] = "\(org)"
                phase = .awaitingHello(identity, orgCode: org)
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
            startCoreRequest(request)
        case let end as EndSessionEvent:
            promise?.succeed()
            logger.info("session ended by the core", metadata: ["error": "\(end.error)"])
            refuse(end.error, id: 0)
        default:
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    private func startCoreRequest(_ request: CoreRequestEvent) {
        guard case .active = phase, !draining, let context else {
            request.promise.fail(WireError(.unavailable, "the connection cannot take requests"))
            return
        }
        guard context.channel.isWritable else {
            // The peer is not reading what the core already sent: queueing more would only grow
            // memory until a deadline. Fail now; the caller answers PROVIDER_UNAVAILABLE
            // (retryable) or leaves the push pending in the store for a later attempt.
            request.promise.fail(WireError(.unavailable, "the peer is not reading (write_buffer_high_bytes reached)"))
            return
        }
        let id = coreNextID
        coreNextID += 1
        var pending = CorePending(promise: request.promise, deadline: .now() + request.timeout,
                                  isProvide: { if case .provide = request.body { return true } else { return false } }())
        pending.timer = scheduleExpiry(of: id, at: pending.deadline, context: context)
        corePending[id] = pending
        var envelope = LCEnvelope()
        envelope.id = id
        envelope.body = request.body
        send(envelope)
    }

    /// At `deadline` the core stops waiting for its request `id`: the caller hears
    /// DEADLINE_EXCEEDED, and a later answer finds nothing to complete.
    private func scheduleExpiry(of id: UInt64, at deadline: NIODeadline, context: ChannelHandlerContext) -> Scheduled<Void> {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        return context.eventLoop.scheduleTask(deadline: deadline) { () -> Void in
            bound.value.expireCoreRequest(id)
        }
    }

    private func expireCoreRequest(_ id: UInt64) {
        guard let pending = corePending.removeValue(forKey: id) else { return }
        if pending.isProvide { finishedProvides.insert(id) }
        pending.promise.fail(WireError(.deadlineExceeded, "the peer did not answer in time"))
        closeIfDrained()
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

    // MARK: reading

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inReadBurst = true
        let frame = unwrapInboundIn(data)
        let envelope: LCEnvelope
        do {
            envelope = try LCEnvelope(frame: frame)
        } catch {
            batch.errors.append(.malformedMessage)
            if case .active = phase {
                return send(WireError(.malformedMessage, "frame is not a valid Envelope: \(error)").envelope(id: 0))
            }
            return refuse(WireError(.malformedMessage, "frame is not a valid Envelope"), id: 0)
        }
        switch phase {
        case .handshaking, .closing:
            return  // nothing is read before the certificate is accepted, or after refusal
        case let .awaitingHello(identity, org):
            hello(envelope, identity: identity, orgCode: org)
        case let .active(peer):
            dispatch(envelope, peer: peer)
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        inReadBurst = false
        if needsFlush {
            needsFlush = false
            context.flush()
            checkOutbound(context: context)
        }
        reportMetrics()
        context.fireChannelReadComplete()
    }

    private func hello(_ envelope: LCEnvelope, identity: PeerIdentity, orgCode: String) {
        guard case let .hello(hello)? = envelope.body else {
            return refuse(WireError(.helloRequired, "the first message must be Hello"), id: envelope.id)
        }
        guard envelope.id != 0 else {
            // Hello is a request like any other (§3): id 0 would leave the Welcome without an id.
            return refuse(WireError(.invalidArgument, "request id 0 is reserved for messages without a reply"), id: 0)
        }
        guard let version = ProtocolVersion.negotiate(peerMin: hello.minVersion, peerMax: hello.maxVersion) else {
            return refuse(WireError(.unsupportedVersion,
                "this core speaks versions \(ProtocolVersion.minimum)-\(ProtocolVersion.current), the peer \(hello.minVersion)-\(hello.maxVersion)"),
                id: envelope.id)
        }
        if !hello.orgCode.isEmpty && hello.orgCode != orgCode {
            // Before admission: the claim is cut and escaped (see PeerText), in the log and the echo.
            let claimed = PeerText.safe(hello.orgCode, max: 32)
            logger.warning("Hello claims another organisation", metadata: ["claimed": "\(claimed)"])
            return refuse(WireError(.orgMismatch, "the certificate binds \(orgCode), not \(claimed)"), id: envelope.id)
        }
        let role: LCRole
        switch env.service.admit(orgCode: orgCode) {
        case let .success(r): role = r
        case let .failure(error): return refuse(error, id: envelope.id)
        }
        guard let context else { return }
        if let limitHit = env.registry.admit(context.channel, orgCode: orgCode, acceptsPushes: hello.acceptsPushes,
                                             certificateSerial: identity.serialHex) {
            return refuse(limitHit, id: envelope.id)
        }
        admitted = true
        handshakeTimer?.cancel()
        handshakeTimer = nil
        let peer = Peer(orgCode: orgCode, identity: identity, role: role, version: version)
        phase = .active(peer)
        logger.info("session started", metadata: ["software": "\(PeerText.safe(hello.software))", "version": "\(version)"])
        var welcome = LCWelcome()
        welcome.version = version
        welcome.coreID = env.coreID
        welcome.orgCode = orgCode
        welcome.maxFrameBytes = UInt32(env.limits.maxFrameBytes)
        welcome.maxInFlight = UInt32(env.limits.maxInFlight)
        welcome.idleTimeoutMs = UInt32(env.limits.idleTimeout.nanoseconds / 1_000_000)
        welcome.keepaliveMs = UInt32(env.limits.keepalive.nanoseconds / 1_000_000)
        welcome.role = role
        var reply = LCEnvelope()
        reply.id = envelope.id
        reply.welcome = welcome
        send(reply)
        env.service.sessionStarted(peer, channel: context.channel, acceptsPushes: hello.acceptsPushes)
    }

    /// Every request body follows the same id rules (docs/protocol.md §3 and §6), pings and
    /// refused bodies included: id 0, a draining connection, an id in flight and the in-flight
    /// limit are checked first, in that order. Replies are matched to the core's own requests
    /// and never answered.
    private func dispatch(_ envelope: LCEnvelope, peer: Peer) {
        let id = envelope.id
        var peer = peer
        if envelope.body?.kind != .reply && envelope.body?.kind != .notice {
            // Admission holds per request, not only at Hello: an organisation suspended (or
            // removed) since is refused with its typed error and the session ends; a role
            // changed since applies to this request.
            switch env.service.admit(orgCode: peer.orgCode) {
            case let .failure(error):
                logger.info("session ended: the organisation is no longer admitted", metadata: ["error": "\(error)"])
                return refuse(error, id: id)
            case let .success(role) where role != peer.role:
                peer.role = role
                phase = .active(peer)
            case .success:
                break
            }
        }
        guard let body = envelope.body else {
            // A body this version does not know: a request of a newer version, or (id 0) a
            // message that expects no reply; the core cannot tell which, so id 0 is not refused.
            let unknown = WireError(.unknownMessage, "message body unknown to protocol version \(peer.version)")
            return id == 0 ? answer(0, .failure(unknown), started: nil) : admitRequest(id) { $0.answer(id, .failure(unknown), started: nil) }
        }
        switch body.kind {
        case .notice:
            logger.info("peer is going away")
            draining = true
            closeIfDrained()
        case .reply:
            takeReply(envelope)
        case .request:
            admitRequest(id) { handler in
                switch body {
                case let .ping(ping):
                    guard ping.payload.count <= WireDefaults.maxPingPayload else {
                        return handler.answer(id, .failure(WireError(.invalidArgument, "ping payload over \(WireDefaults.maxPingPayload) bytes")), started: nil)
                    }
                    var pong = LCPong()
                    pong.payload = ping.payload
                    handler.answer(id, .success(.pong(pong)), started: nil)
                case .hello:
                    handler.answer(id, .failure(WireError(.invalidArgument, "Hello was already received on this connection")), started: nil)
                case _ where body.isAdminSocketOnly:
                    handler.answer(id, .failure(WireError(.permissionDenied, "operator messages are accepted only on the admin socket")), started: nil)
                default:
                    handler.inFlight[id] = NIODeadline.now()
                    handler.batch.inFlightDelta += 1
                    handler.env.service.handle(envelope, from: peer, reply: handler.makeReply(id: id))
                }
            }
        }
    }

    /// Applies the id rules to a request; `serve` runs only for a request that passes them.
    private func admitRequest(_ id: UInt64, serve: (ServerConnectionHandler) -> Void) {
        guard id != 0 else {
            return answer(0, .failure(WireError(.invalidArgument, "request id 0 is reserved for messages without a reply")), started: nil)
        }
        if draining {
            return answer(id, .failure(WireError(.shuttingDown, "this connection is draining (GoingAway): no new requests")), started: nil)
        }
        if inFlight[id] != nil {
            return answer(id, .failure(WireError(.duplicateRequestID, "request id \(id) is already in flight")), started: nil)
        }
        if inFlight.count >= env.limits.maxInFlight {
            return answer(id, .failure(WireError(.tooManyInFlight, "\(env.limits.maxInFlight) requests already in flight")), started: nil)
        }
        serve(self)
    }

    /// A reply from the peer: it completes the core's request with that id, if one waits.
    private func takeReply(_ envelope: LCEnvelope) {
        let id = envelope.id
        if let waiting = corePending.removeValue(forKey: id) {
            waiting.timer?.cancel()
            if waiting.isProvide { finishedProvides.insert(id) }
            waiting.promise.succeed(envelope)
            closeIfDrained()
        } else if finishedProvides.remove(id) {
            // A provider's answer after the deadline, or its second answer: dropped, never
            // relayed, counted once per ProvideRequest.
            env.metrics.droppedProviderReply()
            logger.debug("late or second provider answer dropped", metadata: ["body": "\(envelope.bodyName)", "id": "\(id)"])
        } else {
            // Nobody asked (a pong or welcome the core never requested, an id it never used):
            // ignored, and not counted, so a peer cannot move the operator's figures with it.
            logger.debug("unsolicited reply ignored", metadata: ["body": "\(envelope.bodyName)", "id": "\(id)"])
        }
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
        guard let started = inFlight.removeValue(forKey: id) else {
            // After a close the connection's requests are gone; otherwise this is a bug.
            if context != nil { logger.error("a request was answered twice", metadata: ["id": "\(id)"]) }
            return
        }
        batch.inFlightDelta -= 1
        answer(id, result, started: started)
        if !inReadBurst {
            reportMetrics()
        }
        closeIfDrained()
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
            batch.latenciesMicros.append(UInt64(max(0, (NIODeadline.now() - started).nanoseconds / 1000)))
        } else {
            batch.untimed += 1
        }
        requestsSinceReport += 1
        send(reply)
    }

    private func send(_ envelope: LCEnvelope) {
        guard let context else { return }
        context.write(wrapOutboundOut(envelope), promise: nil)
        if inReadBurst {
            needsFlush = true
        } else {
            context.flush()
            checkOutbound(context: context)
        }
    }

    /// Closes a connection whose peer leaves more than `maxOutboundBytes` unread: reading from it
    /// already stopped at the high-water mark, so only the core's replies to requests read
    /// before that, and its own requests, can get here.
    private func checkOutbound(context: ChannelHandlerContext) {
        guard let buffered = try? context.channel.syncOptions?.getOption(.bufferedWritableBytes),
              buffered > env.limits.maxOutboundBytes else { return }
        logger.warning("closing connection: the peer does not read", metadata: ["buffered_bytes": "\(buffered)"])
        phase = .closing
        context.close(promise: nil)
    }

    /// Sends a typed refusal and closes: the peer can read why before the connection ends.
    private func refuse(_ error: WireError, id: UInt64) {
        guard let context else { return }
        if case .closing = phase { return }
        phase = .closing
        batch.errors.append(error.code)
        let channel = context.channel
        // The refusal may never leave if the peer does not read: close after closeTimeout anyway.
        let deadline = context.eventLoop.scheduleTask(in: env.limits.closeTimeout) {
            channel.close(promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(error.envelope(id: id))).whenComplete { _ in
            deadline.cancel()
            channel.close(promise: nil)
        }
    }

    // MARK: drain and backpressure

    private func startDrain(drainMs: UInt32) {
        guard !draining, let context else { return }
        draining = true
        if case .active = phase {
            var goingAway = LCGoingAway()
            goingAway.reason = "the core is shutting down"
            goingAway.drainMs = drainMs
            var envelope = LCEnvelope()
            envelope.goingAway = goingAway
            send(envelope)
            // The core's own requests may wait until shortly before the drain ends, so that their
            // callers (A, for a ProvideRequest) still hear the outcome, logged durably first,
            // before connections are closed: the last tenth of the drain, at least 1 s and at
            // most half of it, is left for that.
            let drain = Int64(drainMs)
            let cutoff = NIODeadline.now() + .milliseconds(drain - min(drain / 2, max(drain / 10, 1000)))
            for (id, pending) in corePending where pending.deadline > cutoff {
                pending.timer?.cancel()
                corePending[id]?.deadline = cutoff
                corePending[id]?.timer = scheduleExpiry(of: id, at: cutoff, context: context)
            }
            closeIfDrained()
        } else {
            context.close(promise: nil)
        }
    }

    /// Closes a draining connection once nothing is in flight in either direction: the peer's
    /// requests are answered and the core's own requests (ProvideRequest, pushes) are answered
    /// or past their deadline.
    private func closeIfDrained() {
        guard draining, inFlight.isEmpty, corePending.isEmpty, let context else { return }
        if needsFlush { needsFlush = false; context.flush() }
        context.close(promise: nil)
    }

    public func read(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            context.read()
        } else {
            readPending = true
        }
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && readPending {
            readPending = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    private func reportMetrics() {
        env.metrics.record(&batch)
        if admitted, requestsSinceReport > 0, let context {
            env.registry.update(context.channel, requests: requestsSinceReport, inFlight: inFlight.count)
            requestsSinceReport = 0
        }
    }
}

/// A request the core started on a connection and still waits for.
private struct CorePending {
    var promise: EventLoopPromise<LCEnvelope>
    var deadline: NIODeadline
    var isProvide: Bool
    var timer: Scheduled<Void>?
}
