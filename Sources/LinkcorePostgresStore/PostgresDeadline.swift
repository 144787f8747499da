import Synchronization

/// Bounds how long the store waits for PostgreSQL, without trusting the driver to give up.
///
/// Closing a connection normally fails the statement in flight; but in the failover test under
/// load (issue 16, item 4(b)) a write batch stayed suspended in a postgres-nio call after its
/// server was killed and after the batch timeout had closed its connection: the awaited future
/// was never completed, so every write queued behind it waited forever while the store, connected
/// again to the promoted standby, reported ready (docs/store.md, "Failover of the database").
/// So a bounded operation runs in a task of its own and the caller waits for whichever comes
/// first, its result or the deadline; at the deadline the caller goes on (`onTimeout` closes the
/// connection) and the task is left behind to end whenever the driver lets it, answering no one.
enum PostgresDeadline {
    /// `body`'s result, or nil when it has not finished within `timeout` (then `onTimeout` has
    /// run, and `body`'s task is left to finish on its own; its result is dropped). With a
    /// `heartbeat`, the timeout counts from its last beat (the last statement answered), so a
    /// long batch that keeps getting answers is not cut; a server that stops answering is.
    static func run<T: Sendable>(within timeout: Duration, heartbeat: Heartbeat? = nil, onTimeout: @escaping @Sendable () -> Void,
                                 _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
        let started = ContinuousClock.now
        let gate = Gate<T>()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T?, any Error>) in
            gate.arm(continuation)
            let work = Task {
                do { gate.finish(.success(try await body())) } catch { gate.finish(.failure(error)) }
            }
            let timer = Task {
                var deadline = started + timeout
                while true {
                    guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
                    let next = max(started, heartbeat?.last ?? started) + timeout
                    if next <= .now { break }
                    deadline = next
                }
                if gate.finish(.success(nil)) { onTimeout() }
            }
            gate.onFinish { timer.cancel(); _ = work }
        }
    }

    /// Resumes the continuation once: with the body's outcome or the timeout's nil, whichever is first.
    private final class Gate<T: Sendable>: Sendable {
        private let state = Mutex<(continuation: CheckedContinuation<T?, any Error>?, done: Bool, cleanup: (@Sendable () -> Void)?)>((nil, false, nil))

        func arm(_ continuation: CheckedContinuation<T?, any Error>) {
            state.withLock { $0.continuation = continuation }
        }

        /// Runs `cleanup` once finished (now, if it already is).
        func onFinish(_ cleanup: @escaping @Sendable () -> Void) {
            let now = state.withLock { s -> Bool in
                if s.done { return true }
                s.cleanup = cleanup
                return false
            }
            if now { cleanup() }
        }

        /// True for the first outcome (the one the caller gets).
        @discardableResult
        func finish(_ outcome: Result<T?, any Error>) -> Bool {
            let taken = state.withLock { s -> (CheckedContinuation<T?, any Error>, (@Sendable () -> Void)?)? in
                guard !s.done, let continuation = s.continuation else { return nil }
                s.done = true
                defer { s.continuation = nil; s.cleanup = nil }
                return (continuation, s.cleanup)
            }
            guard let (continuation, cleanup) = taken else { return false }
            continuation.resume(with: outcome)
            cleanup?()
            return true
        }
    }
}

/// True once: guards a caller's continuation that both a late batch and its timeout may try to
/// resume.
final class Once: Sendable {
    private let taken = Atomic<Bool>(false)
    /// True for the first caller only.
    func claim() -> Bool { !taken.exchange(true, ordering: .acquiringAndReleasing) }
}

/// When a connection last answered a statement (`PostgresSession` beats it).
final class Heartbeat: Sendable {
    private let instant = Mutex(ContinuousClock.now)
    var last: ContinuousClock.Instant { instant.withLock { $0 } }
    func beat() { instant.withLock { $0 = .now } }
}
