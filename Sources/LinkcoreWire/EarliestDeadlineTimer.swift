import NIOCore

/// One timer per connection, never later than the earliest deadline it was asked for: arming is
/// O(1) per request, and whoever owns it scans its deadlines only when it fires. Shared by the
/// core's session (`ServerConnectionHandler`) and `LinkcoreClient`'s handler. Event-loop only.
public struct EarliestDeadlineTimer {
    private var scheduled: Scheduled<Void>?
    private var deadline: NIODeadline?

    public init() {}

    /// Schedules `fire` at `next` unless the timer already fires at or before it. On the loop,
    /// so `fire` may hold the (non-Sendable) handler.
    public mutating func arm(at next: NIODeadline, on loop: any EventLoop, _ fire: @escaping () -> Void) {
        if let deadline, deadline <= next { return }
        scheduled?.cancel()
        deadline = next
        scheduled = loop.assumeIsolated().scheduleTask(deadline: next, fire)
    }

    /// Forgets the timer without cancelling it: first thing in `fire` (the task running is the
    /// one scheduled, and cancelling it would have NIO scan every task of the loop for nothing:
    /// with 10,000 idle sessions that scan was a seventh of the core's time), or at close, where a
    /// task left to fire must find nothing to do.
    public mutating func forget() {
        scheduled = nil
        deadline = nil
    }

    /// Cancels a pending timer (a linear scan of the loop's tasks in NIO: not per frame).
    public mutating func reset() {
        scheduled?.cancel()
        scheduled = nil
        deadline = nil
    }
}
