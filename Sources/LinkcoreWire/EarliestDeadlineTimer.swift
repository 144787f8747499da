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

    /// Forgets the timer that just fired (call first thing in `fire`), or cancels a pending one.
    public mutating func reset() {
        scheduled?.cancel()
        scheduled = nil
        deadline = nil
    }
}
