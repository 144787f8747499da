import LinkcoreTLS
import LinkcoreWire
import NIOCore

// The session logic of `ServerConnectionHandler`, kept pure (no channel, no service, no clock
// of its own) so that every transition can be unit tested with a manual clock. The handler feeds
// it events and performs the actions it returns; all timeouts come from `nextDeadline`.
//
//   idle ──accepted──▶ handshaking ──certificate──▶ awaitingHello ──Hello admitted──▶ active
//     │                    │                             │                              │ drain /
//     │ refused at accept  │ refusal / handshake timeout │                              ▼ GoingAway
//     └───────────────────▶ closing ◀────────────────────┴────── refusal ───── active(draining)
//                              │                                  nothing in flight ───┘
//                              ▼ channelInactive
//                            closed

/// The state of one core-side session and the decisions taken on each event. `Waiter` is what
/// the core's own requests complete (a promise in production).
public struct SessionStateMachine<Clock: SessionClock, Waiter> {
    public enum State {
        /// Not yet connected.
        case idle
        /// Counted at accept; the TLS handshake is under way.
        case handshaking
        /// The certificate is accepted; the first message must be Hello.
        case awaitingHello(PeerIdentity, orgCode: String)
        /// Welcome sent: requests flow both ways.
        case active(Peer)
        /// A refusal is on its way out, or the channel is being closed: nothing more is read.
        case closing
        /// The channel is inactive.
        case closed
    }

    public let coreID: String
    public let limits: ConnectionLimits
    public let clock: Clock
    public private(set) var state: State = .idle
    /// GoingAway was sent or received: no new requests, close once nothing is in flight.
    public private(set) var draining = false
    /// The connection registry admitted the session (it must be removed from it at close).
    public private(set) var admitted = false
    /// The peer's requests being served, by id, with the time each started (latency).
    private var inFlight: [UInt64: NIODeadline] = [:]
    /// Requests the core started on this connection and waits for: they count as in flight, so
    /// a drain keeps the connection open until they are answered or their deadline passes.
    private var core = RequestMultiplexer<CoreRequest>()
    /// Recent ProvideRequests that were answered or timed out: one more reply to one of them is a
    /// late or second provider answer (counted), anything else is an unsolicited reply (not).
    private var finishedProvides = RecentIDs(capacity: 1024)
    private var handshakeDeadline: NIODeadline?
    private var closeDeadline: NIODeadline?
    public private(set) var inReadBurst = false
    private var needsFlush = false
    private var readPending = false

    struct CoreRequest {
        var waiter: Waiter
        var isProvide: Bool
    }

    public init(coreID: String, limits: ConnectionLimits, clock: Clock) {
        self.coreID = coreID
        self.limits = limits
        self.clock = clock
    }

    public var inFlightCount: Int { inFlight.count }
    public var coreRequestCount: Int { core.count }

    /// When the owner's single timer must fire next (then call `timerFired`): the handshake
    /// deadline, a refusal's close deadline, or the first deadline of the core's own requests.
    /// A full scan of the core's requests: called when the timer fires, not per frame (each
    /// event that adds a deadline returns it, so the owner arms its timer in O(1)).
    public var nextDeadline: NIODeadline? {
        var next = core.earliestDeadline
        if let deadline = handshakeDeadline, next.map({ deadline < $0 }) ?? true { next = deadline }
        if let deadline = closeDeadline, next.map({ deadline < $0 }) ?? true { next = deadline }
        return next
    }

    // MARK: - Lifecycle

    /// The socket is counted by the connection registry: the handshake and Hello must complete
    /// before the returned deadline (`limits.handshakeTimeout`).
    @discardableResult
    public mutating func accepted() -> NIODeadline? {
        guard case .idle = state else { return nil }
        state = .handshaking
        let deadline = clock.now() + limits.handshakeTimeout
        handshakeDeadline = deadline
        return deadline
    }

    /// The registry refused the socket at accept: before TLS nothing can be said to the peer, so
    /// it is closed at once.
    public mutating func refusedAtAccept() {
        state = .closing
    }

    /// A typed refusal to send before closing: close once it is written, or at the close
    /// deadline (the peer may not read it; `timerFired` then says `.closeTimeout`).
    public struct Refusal: Equatable, Sendable {
        /// Why, for the log: most refusals explain themselves in `error`.
        public enum Cause: Equatable, Sendable {
            case other
            /// Hello names another organisation than the certificate.
            case orgClaimMismatch
            /// The organisation was suspended or removed since Hello.
            case noLongerAdmitted
        }
        public var error: WireError
        public var id: UInt64
        /// When the connection is closed even if the refusal has not left.
        public var closeDeadline: NIODeadline
        public var cause: Cause = .other
        public var envelope: LCEnvelope { error.envelope(id: id) }
    }

    /// Refuses the session with `error` (answering request `id`, or 0); nil when a close is
    /// already under way.
    public mutating func refuse(_ error: WireError, id: UInt64) -> Refusal? {
        switch state {
        case .closing, .closed: return nil
        case .idle, .handshaking, .awaitingHello, .active: break
        }
        state = .closing
        let deadline = clock.now() + limits.closeTimeout
        closeDeadline = deadline
        return Refusal(error: error, id: id, closeDeadline: deadline)
    }

    /// The TLS handshake completed and the certificate passed verification.
    public mutating func handshakeCompleted(_ identity: PeerIdentity?) -> Refusal? {
        guard let identity, let org = identity.orgCode else {
            return refuse(WireError(.certificateRejected, "client certificate rejected: \(CertificateRejection.noOrganisation)"), id: 0)
        }
        guard case .handshaking = state else { return nil }
        state = .awaitingHello(identity, orgCode: org)
        return nil
    }

    public struct InactiveOutcome {
        /// The peer's requests still being served (their replies will be dropped).
        public var droppedInFlight: Int
        /// The core's own requests still waiting: fail them, the peer will not answer.
        public var coreWaiters: [Waiter]
        public var wasAdmitted: Bool
    }

    public mutating func channelInactive() -> InactiveOutcome {
        let outcome = InactiveOutcome(droppedInFlight: inFlight.count, coreWaiters: core.removeAll().map { $0.waiter.waiter },
                                      wasAdmitted: admitted)
        inFlight.removeAll()
        state = .closed
        handshakeDeadline = nil
        closeDeadline = nil
        needsFlush = false
        return outcome
    }

    // MARK: - Timers

    public enum TimerClose: Equatable, Sendable {
        /// TLS and Hello did not complete in time: closed without a word.
        case handshakeTimeout
        /// A refusal could not be written in time (the peer does not read).
        case closeTimeout
    }

    public struct TimerOutcome {
        /// The core's requests past their deadline: fail them with DEADLINE_EXCEEDED, then
        /// `closeIfDrained`.
        public var expired: [Waiter] = []
        public var close: TimerClose?
    }

    /// The owner's timer fired: what is due at `clock.now()`.
    public mutating func timerFired() -> TimerOutcome {
        var outcome = TimerOutcome()
        if case .closed = state { return outcome }
        let now = clock.now()
        for (id, request) in core.expire(now: now) {
            if request.isProvide { finishedProvides.insert(id) }
            outcome.expired.append(request.waiter)
        }
        if let deadline = closeDeadline, deadline <= now {
            closeDeadline = nil
            state = .closing
            outcome.close = .closeTimeout
        } else if let deadline = handshakeDeadline, deadline <= now {
            handshakeDeadline = nil
            state = .closing
            outcome.close = .handshakeTimeout
        }
        return outcome
    }

    // MARK: - Reading

    public enum ReceiveAction {
        case none
        case refuse(Refusal)
        /// Send this error (id 0) and keep the session: a frame that is not an Envelope.
        case reportError(WireError)
        /// Hello passed the protocol's checks: admit the organisation (service, registry), then
        /// call `helloAdmitted` or `refuse`.
        case admitHello(HelloCheck)
        /// Answer at once, untimed (pings, refusals by the id rules).
        case answer(id: UInt64, Result<LCEnvelope.OneOf_Body, WireError>)
        /// A domain request, now in flight: hand it to the service, whose reply comes back
        /// through `requestCompleted`.
        case serve(LCEnvelope, Peer)
        /// A reply to the core's own request: complete its waiter, then `closeIfDrained`.
        case completeCoreRequest(Waiter, LCEnvelope)
        /// A provider's answer after its deadline, or a second one: dropped, counted.
        case droppedProviderReply(LCEnvelope)
        /// A reply nobody asked for: ignored, not counted.
        case unsolicitedReply(LCEnvelope)
        /// The peer said GoingAway: `closeIfDrained`.
        case peerGoingAway
    }

    public struct HelloCheck {
        public var id: UInt64
        public var hello: LCHello
        public var identity: PeerIdentity
        public var orgCode: String
        public var version: UInt32
    }

    /// A frame that does not decode as an Envelope.
    public mutating func malformedFrame(_ detail: String) -> ReceiveAction {
        inReadBurst = true
        if case .active = state {
            return .reportError(WireError(.malformedMessage, "frame is not a valid Envelope: \(detail)"))
        }
        return refuse(WireError(.malformedMessage, "frame is not a valid Envelope"), id: 0).map { .refuse($0) } ?? .none
    }

    /// One envelope from the peer. `admission` says whether the organisation is (still)
    /// admitted, and in which role: it holds per request, not only at Hello.
    public mutating func envelopeReceived(
        _ envelope: LCEnvelope, admission: (String) -> Result<LCRole, WireError>
    ) -> ReceiveAction {
        inReadBurst = true
        switch state {
        case .idle, .handshaking, .closing, .closed:
            return .none  // nothing is read before the certificate is accepted, or after refusal
        case let .awaitingHello(identity, org):
            return hello(envelope, identity: identity, orgCode: org)
        case let .active(peer):
            return dispatch(envelope, peer: peer, admission: admission)
        }
    }

    private mutating func refusing(_ error: WireError, id: UInt64, cause: Refusal.Cause = .other) -> ReceiveAction {
        guard var refusal = refuse(error, id: id) else { return .none }
        refusal.cause = cause
        return .refuse(refusal)
    }

    private mutating func hello(_ envelope: LCEnvelope, identity: PeerIdentity, orgCode: String) -> ReceiveAction {
        guard case let .hello(hello)? = envelope.body else {
            return refusing(WireError(.helloRequired, "the first message must be Hello"), id: envelope.id)
        }
        guard envelope.id != 0 else {
            // Hello is a request like any other (§3): id 0 would leave the Welcome without an id.
            return refusing(WireError(.invalidArgument, "request id 0 is reserved for messages without a reply"), id: 0)
        }
        guard let version = ProtocolVersion.negotiate(peerMin: hello.minVersion, peerMax: hello.maxVersion) else {
            return refusing(WireError(.unsupportedVersion,
                "this core speaks versions \(ProtocolVersion.minimum)-\(ProtocolVersion.current), the peer \(hello.minVersion)-\(hello.maxVersion)"),
                id: envelope.id)
        }
        if !hello.orgCode.isEmpty && hello.orgCode != orgCode {
            // Before admission: the claim is cut and escaped (see PeerText), in the log and the echo.
            let claimed = PeerText.safe(hello.orgCode, max: 32)
            return refusing(WireError(.orgMismatch, "the certificate binds \(orgCode), not \(claimed)"), id: envelope.id,
                            cause: .orgClaimMismatch)
        }
        return .admitHello(HelloCheck(id: envelope.id, hello: hello, identity: identity, orgCode: orgCode, version: version))
    }

    /// The organisation of `check` is admitted in `role`: the session is active. Returns the
    /// Welcome to send and the peer.
    public mutating func helloAdmitted(_ check: HelloCheck, role: LCRole) -> (welcome: LCEnvelope, peer: Peer)? {
        guard case .awaitingHello = state else { return nil }
        admitted = true
        handshakeDeadline = nil
        let peer = Peer(orgCode: check.orgCode, identity: check.identity, role: role, version: check.version)
        state = .active(peer)
        var welcome = LCWelcome()
        welcome.version = check.version
        welcome.coreID = coreID
        welcome.orgCode = check.orgCode
        welcome.maxFrameBytes = UInt32(limits.maxFrameBytes)
        welcome.maxInFlight = UInt32(limits.maxInFlight)
        welcome.idleTimeoutMs = UInt32(limits.idleTimeout.nanoseconds / 1_000_000)
        welcome.keepaliveMs = UInt32(limits.keepalive.nanoseconds / 1_000_000)
        welcome.role = role
        var reply = LCEnvelope()
        reply.id = check.id
        reply.welcome = welcome
        return (reply, peer)
    }

    /// Every request body follows the same id rules (docs/protocol.md §3 and §6), pings and
    /// refused bodies included: id 0, a draining connection, an id in flight and the in-flight
    /// limit are checked first, in that order. Replies are matched to the core's own requests
    /// and never answered.
    private mutating func dispatch(
        _ envelope: LCEnvelope, peer: Peer, admission: (String) -> Result<LCRole, WireError>
    ) -> ReceiveAction {
        let id = envelope.id
        var peer = peer
        switch envelope.body?.kind {
        case .notice?:
            draining = true
            return .peerGoingAway
        case .reply?:
            return takeReply(envelope)
        case .request?, nil:
            break
        }
        // Admission holds per request, not only at Hello: an organisation suspended (or removed)
        // since is refused with its typed error and the session ends; a role changed since
        // applies to this request.
        switch admission(peer.orgCode) {
        case let .failure(error):
            return refusing(error, id: id, cause: .noLongerAdmitted)
        case let .success(role) where role != peer.role:
            peer.role = role
            state = .active(peer)
        case .success:
            break
        }
        guard let body = envelope.body else {
            // A body this version does not know: a request of a newer version, or (id 0) a
            // message that expects no reply; the core cannot tell which, so id 0 is not refused.
            let unknown = WireError(.unknownMessage, "message body unknown to protocol version \(peer.version)")
            return id == 0 ? .answer(id: 0, .failure(unknown)) : (idRefusal(id) ?? .answer(id: id, .failure(unknown)))
        }
        if let refusal = idRefusal(id) { return refusal }
        switch body {
        case let .ping(ping):
            guard ping.payload.count <= WireDefaults.maxPingPayload else {
                return .answer(id: id, .failure(WireError(.invalidArgument, "ping payload over \(WireDefaults.maxPingPayload) bytes")))
            }
            var pong = LCPong()
            pong.payload = ping.payload
            return .answer(id: id, .success(.pong(pong)))
        case .hello:
            return .answer(id: id, .failure(WireError(.invalidArgument, "Hello was already received on this connection")))
        case _ where body.isAdminSocketOnly:
            return .answer(id: id, .failure(WireError(.permissionDenied, "operator messages are accepted only on the admin socket")))
        default:
            inFlight[id] = clock.now()
            return .serve(envelope, peer)
        }
    }

    /// The id rules for a request; nil when it may be served.
    private func idRefusal(_ id: UInt64) -> ReceiveAction? {
        guard id != 0 else {
            return .answer(id: 0, .failure(WireError(.invalidArgument, "request id 0 is reserved for messages without a reply")))
        }
        if draining {
            return .answer(id: id, .failure(WireError(.shuttingDown, "this connection is draining (GoingAway): no new requests")))
        }
        if inFlight[id] != nil {
            return .answer(id: id, .failure(WireError(.duplicateRequestID, "request id \(id) is already in flight")))
        }
        if inFlight.count >= limits.maxInFlight {
            return .answer(id: id, .failure(WireError(.tooManyInFlight, "\(limits.maxInFlight) requests already in flight")))
        }
        return nil
    }

    /// A reply from the peer: it completes the core's request with that id, if one waits.
    private mutating func takeReply(_ envelope: LCEnvelope) -> ReceiveAction {
        let id = envelope.id
        if let waiting = core.complete(id) {
            if waiting.isProvide { finishedProvides.insert(id) }
            return .completeCoreRequest(waiting.waiter, envelope)
        } else if finishedProvides.remove(id) {
            // A provider's answer after the deadline, or its second answer: dropped, never
            // relayed, counted once per ProvideRequest.
            return .droppedProviderReply(envelope)
        } else {
            // Nobody asked (a pong or welcome the core never requested, an id it never used):
            // ignored, and not counted, so a peer cannot move the operator's figures with it.
            return .unsolicitedReply(envelope)
        }
    }

    public enum CompletionAction {
        /// Send the reply, then `closeIfDrained`; `started` is when the request came in (latency).
        case answer(started: NIODeadline)
        /// No such request in flight: answered twice, or the connection closed meanwhile.
        case notInFlight(closed: Bool)
    }

    /// The service answered the peer's request `id`.
    public mutating func requestCompleted(_ id: UInt64) -> CompletionAction {
        guard let started = inFlight.removeValue(forKey: id) else {
            if case .closed = state { return .notInFlight(closed: true) }
            return .notInFlight(closed: false)
        }
        return .answer(started: started)
    }

    // MARK: - The core's own requests

    public enum CoreRequestAction {
        /// Send it; the timer must fire at `deadline` at the latest.
        case send(LCEnvelope, deadline: NIODeadline)
        case fail(Waiter, WireError)
    }

    /// The core starts a request (ProvideRequest, LinkIssued, ChangeEvent) on this connection.
    public mutating func startCoreRequest(
        _ body: LCEnvelope.OneOf_Body, timeout: TimeAmount, waiter: Waiter, channelWritable: Bool
    ) -> CoreRequestAction {
        guard case .active = state, !draining else {
            return .fail(waiter, WireError(.unavailable, "the connection cannot take requests"))
        }
        guard channelWritable else {
            // The peer is not reading what the core already sent: queueing more would only grow
            // memory until a deadline. Fail now; the caller answers PROVIDER_UNAVAILABLE
            // (retryable) or leaves the push pending in the store for a later attempt.
            return .fail(waiter, WireError(.unavailable, "the peer is not reading (write_buffer_high_bytes reached)"))
        }
        let isProvide: Bool
        if case .provide = body { isProvide = true } else { isProvide = false }
        let deadline = clock.now() + timeout
        let id = core.start(CoreRequest(waiter: waiter, isProvide: isProvide), deadline: deadline)
        var envelope = LCEnvelope()
        envelope.id = id
        envelope.body = body
        return .send(envelope, deadline: deadline)
    }

    // MARK: - Drain

    public enum DrainedAction: Equatable, Sendable {
        case none
        /// Nothing is in flight in either direction: close (flushing what was written first).
        case close(flushFirst: Bool)
    }

    /// Closes a draining connection once nothing is in flight in either direction: the peer's
    /// requests are answered and the core's own requests (ProvideRequest, pushes) are answered
    /// or past their deadline.
    public mutating func closeIfDrained() -> DrainedAction {
        guard draining, inFlight.isEmpty, core.isEmpty else { return .none }
        switch state {
        case .closing, .closed: return .none
        case .idle, .handshaking, .awaitingHello, .active: break
        }
        state = .closing
        let flush = needsFlush
        needsFlush = false
        return .close(flushFirst: flush)
    }

    public enum DrainAction {
        case none
        /// Not in a session: close at once.
        case close
        /// Send GoingAway, then `closeIfDrained`.
        case goingAway(LCEnvelope)
    }

    /// The core drains: say GoingAway, finish what is in flight, then close.
    public mutating func drain(drainMs: UInt32) -> DrainAction {
        guard !draining else { return .none }
        switch state {
        case .closing, .closed:
            return .none
        case .idle, .handshaking, .awaitingHello:
            draining = true
            state = .closing
            return .close
        case .active:
            draining = true
        }
        var goingAway = LCGoingAway()
        goingAway.reason = "the core is shutting down"
        goingAway.drainMs = drainMs
        var envelope = LCEnvelope()
        envelope.goingAway = goingAway
        // The core's own requests may wait until shortly before the drain ends, so that their
        // callers (A, for a ProvideRequest) still hear the outcome, logged durably first, before
        // connections are closed: the last tenth of the drain, at least 1 s and at most half of
        // it, is left for that.
        let drain = Int64(drainMs)
        core.limitDeadlines(to: clock.now() + .milliseconds(drain - min(drain / 2, max(drain / 10, 1000))))
        return .goingAway(envelope)
    }

    // MARK: - Writing and backpressure

    /// A frame was written: true when it must be flushed now (outside a read burst; inside one,
    /// everything written is flushed once at its end).
    public mutating func wrote() -> Bool {
        if inReadBurst {
            needsFlush = true
            return false
        }
        return true
    }

    /// The read burst ended: true when what was written during it must be flushed now.
    public mutating func readBurstEnded() -> Bool {
        inReadBurst = false
        defer { needsFlush = false }
        return needsFlush
    }

    /// After a flush, `bytes` still wait to be written: true when the connection must be closed
    /// because the peer leaves more than `maxOutboundBytes` unread. Reading from it already
    /// stopped at the high-water mark, so only replies to requests read before that, and the
    /// core's own requests, can get here.
    public mutating func outboundBuffered(_ bytes: Int) -> Bool {
        guard bytes > limits.maxOutboundBytes else { return false }
        switch state {
        case .closed: return false
        default:
            state = .closing
            return true
        }
    }

    /// The pipeline asks for more bytes: true to read now. A peer that does not read its replies
    /// (the channel is not writable) stops being read from until it catches up.
    public mutating func readRequested(channelWritable: Bool) -> Bool {
        if channelWritable { return true }
        readPending = true
        return false
    }

    /// True when a read held back by `readRequested` must be issued now.
    public mutating func writabilityChanged(channelWritable: Bool) -> Bool {
        guard channelWritable, readPending else { return false }
        readPending = false
        return true
    }
}
