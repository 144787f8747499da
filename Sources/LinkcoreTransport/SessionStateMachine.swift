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

    // Stored state is internal, not private, only so that the extensions in
    // SessionStateMachine+Reading.swift and +Flow.swift can reach it; nothing else touches it.
    public let coreID: String
    public let limits: ConnectionLimits
    public let clock: Clock
    public internal(set) var state: State = .idle
    /// GoingAway was sent or received: no new requests, close once nothing is in flight.
    public internal(set) var draining = false
    /// The connection registry admitted the session (it must be removed from it at close).
    public internal(set) var admitted = false
    /// The peer's requests being served, by id, with the time each started (latency).
    var inFlight: [UInt64: NIODeadline] = [:]
    /// Requests the core started on this connection and waits for: they count as in flight, so
    /// a drain keeps the connection open until they are answered or their deadline passes.
    var core = RequestMultiplexer<CoreRequest>()
    /// Recent ProvideRequests that were answered or timed out: one more reply to one of them is a
    /// late or second provider answer (counted), anything else is an unsolicited reply (not).
    var finishedProvides = RecentIDs(capacity: 1024)
    var handshakeDeadline: NIODeadline?
    var closeDeadline: NIODeadline?
    /// Set while the channel is not writable (the peer leaves `writeBufferHighBytes` unread):
    /// the connection is closed then (`TimerClose.writeStalled`).
    public internal(set) var writeStallDeadline: NIODeadline?
    public internal(set) var inReadBurst = false
    var needsFlush = false
    var readPending = false

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
        if let deadline = writeStallDeadline, next.map({ deadline < $0 }) ?? true { next = deadline }
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
        writeStallDeadline = nil
        needsFlush = false
        return outcome
    }

    // MARK: - Timers

    public enum TimerClose: Equatable, Sendable {
        /// TLS and Hello did not complete in time: closed without a word.
        case handshakeTimeout
        /// A refusal could not be written in time (the peer does not read).
        case closeTimeout
        /// The peer left `writeBufferHighBytes` unread for `writeStallTimeout`: closed without
        /// a frame (one would wait behind what it does not read).
        case writeStalled
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
        } else if let deadline = writeStallDeadline, deadline <= now {
            writeStallDeadline = nil
            state = .closing
            outcome.close = .writeStalled
        }
        return outcome
    }
}
