import Synchronization

/// Opens once; every waiter, present or future, then goes on. Lets services that only make
/// sense once the process is ready (READY=1, watchdog pings) wait for it without polling.
public final class ReadinessGate: Sendable {
    private struct State {
        var isOpen = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public var isOpen: Bool { state.withLock { $0.isOpen } }

    public func open() {
        let waiters = state.withLock { s in
            s.isOpen = true
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    /// True once the gate is open; false when the waiting task was cancelled first.
    public func wait() async -> Bool {
        let id = state.withLock { s in s.nextID += 1; return s.nextID }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Under the lock with `onCancel`: a cancellation either finds the waiter or is seen here.
                let now: Bool? = state.withLock { s in
                    if s.isOpen { return true }
                    if Task.isCancelled { return false }
                    s.waiters[id] = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: false)
        }
    }
}
