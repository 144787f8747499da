import LinkcoreWire
import NIOCore

// The core's own requests, the drain, and write batching and backpressure. The state is
// declared in SessionStateMachine.swift.
extension SessionStateMachine {
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

    /// True when a read held back by `readRequested` must be issued now. While the channel is
    /// not writable, `writeStallDeadline` says when the connection is closed if it stays so.
    public mutating func writabilityChanged(channelWritable: Bool) -> Bool {
        if !channelWritable {
            if writeStallDeadline == nil { writeStallDeadline = clock.now() + limits.writeStallTimeout }
            return false
        }
        writeStallDeadline = nil
        guard readPending else { return false }
        readPending = false
        return true
    }
}
