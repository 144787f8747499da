import NIOCore

/// Where a session reads the time. Generic, not an existential, so that the production clock
/// costs one inlined `NIODeadline.now()` per read and tests drive timeouts by hand.
public protocol SessionClock: Sendable {
    func now() -> NIODeadline
}

/// The event loop's monotonic time, the same clock NIO schedules timers on.
public struct SystemSessionClock: SessionClock {
    public init() {}
    @inlinable public func now() -> NIODeadline { .now() }
}
