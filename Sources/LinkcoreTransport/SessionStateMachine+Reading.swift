import LinkcoreTLS
import LinkcoreWire
import NIOCore

// Reading: Hello, the id rules, dispatch, replies to the core's own requests. The state is
// declared in SessionStateMachine.swift.
extension SessionStateMachine {
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

    mutating func refusing(_ error: WireError, id: UInt64, cause: Refusal.Cause = .other) -> ReceiveAction {
        guard var refusal = refuse(error, id: id) else { return .none }
        refusal.cause = cause
        return .refuse(refusal)
    }

    mutating func hello(_ envelope: LCEnvelope, identity: PeerIdentity, orgCode: String) -> ReceiveAction {
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
    mutating func dispatch(
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
    func idRefusal(_ id: UInt64) -> ReceiveAction? {
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
    mutating func takeReply(_ envelope: LCEnvelope) -> ReceiveAction {
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
}
