import Dispatch
import Foundation
import Synchronization

/// A module's own threads for decide calls. A C call cannot be cancelled, so a call that overruns
/// its deadline is abandoned: the caller fails closed and the thread stays with the call until it
/// returns. Dedicated threads keep a hung module from starving anything else (the cooperative
/// pool, NIO's loops, another module); when all of a module's threads are stuck, its calls are
/// refused at once instead of queueing behind them.
final class DecisionWorkers: Sendable {
    typealias Job = @Sendable () -> Void

    private struct State {
        /// A popped slot is cleared at once: a job holds its module, and a module its workers.
        var jobs: [Job?] = []
        var head = 0
        var stopping = false
        /// Threads busy with a call whose caller already gave up.
        var stuck = 0
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    let count: Int
    /// Bound on queued jobs: beyond it the module is plainly not keeping up.
    private let maxQueued: Int

    init(count: Int, label: String) {
        self.count = max(1, count)
        self.maxQueued = 1024 * self.count
        for i in 0..<self.count {
            let thread = Thread { [self] in self.run() }
            thread.name = "policy-\(label)-\(i)"
            thread.start()
        }
    }

    /// Queues a job; false when every thread is stuck or the queue is full.
    func submit(_ job: @escaping Job) -> Bool {
        let accepted = state.withLock { s -> Bool in
            guard !s.stopping, s.stuck < count, s.jobs.count - s.head < maxQueued else { return false }
            s.jobs.append(job)
            return true
        }
        if accepted { wake.signal() }
        return accepted
    }

    func markStuck() { state.withLock { $0.stuck += 1 } }
    func markUnstuck() { state.withLock { $0.stuck -= 1 } }
    var stuck: Int { state.withLock { $0.stuck } }

    /// Lets the threads finish: idle ones exit now, a stuck one when its call returns.
    func stop() {
        state.withLock { $0.stopping = true }
        for _ in 0..<count { wake.signal() }
    }

    private func run() {
        while true {
            wake.wait()
            let job = state.withLock { s -> Job? in
                guard s.head < s.jobs.count else { return nil }
                let job = s.jobs[s.head]
                s.jobs[s.head] = nil
                s.head += 1
                if s.head > 64 && s.head * 2 > s.jobs.count {
                    s.jobs.removeFirst(s.head)
                    s.head = 0
                }
                return job
            }
            if let job {
                job()
                continue
            }
            if state.withLock({ $0.stopping }) { return }
        }
    }
}

/// The same rendezvous for an async caller: the continuation is resumed by the worker with the
/// answer or by the deadline timer with the failure, whichever comes first.
final class AsyncPendingCall: Sendable {
    typealias Continuation = CheckedContinuation<Result<[UInt8], PolicyError>, Never>

    private enum State {
        case waiting(Continuation)
        case done
        case abandoned
    }

    private let state: Mutex<State>

    init(_ continuation: Continuation) { state = Mutex(.waiting(continuation)) }

    /// The worker's side; true when the deadline had already passed.
    func complete(_ result: Result<[UInt8], PolicyError>) -> Bool {
        let (continuation, abandoned) = state.withLock { s -> (Continuation?, Bool) in
            switch s {
            case .waiting(let c):
                s = .done
                return (c, false)
            case .abandoned: return (nil, true)
            case .done: return (nil, false)
            }
        }
        continuation?.resume(returning: result)
        return abandoned
    }

    /// The timer's side: when the call is still running it is abandoned, `abandoned` runs (the
    /// worker is counted as stuck before the caller can call again), then the caller resumes.
    func expire(_ error: PolicyError, abandoned: () -> Void) {
        let continuation = state.withLock { s -> Continuation? in
            guard case .waiting(let c) = s else { return nil }
            s = .abandoned
            return c
        }
        guard let continuation else { return }
        abandoned()
        continuation.resume(returning: .failure(error))
    }
}

/// One warm-up call handed to a worker (the caller's thread waits): whoever comes second — the worker with the answer or the
/// caller giving up at the deadline — learns that it came second and cleans up.
final class PendingCall: Sendable {
    private enum State {
        case waiting
        case done(Result<[UInt8], PolicyError>)
        case abandoned
    }

    private let state = Mutex(State.waiting)
    let finished = DispatchSemaphore(value: 0)

    /// The worker's side; true when the caller had already given up.
    func complete(_ result: Result<[UInt8], PolicyError>) -> Bool {
        let abandoned = state.withLock { s -> Bool in
            if case .abandoned = s { return true }
            s = .done(result)
            return false
        }
        if !abandoned { finished.signal() }
        return abandoned
    }

    /// The caller's side at the deadline: the result if it arrived in the meantime, else nil.
    func abandon() -> Result<[UInt8], PolicyError>? {
        state.withLock { s in
            if case .done(let result) = s { return result }
            s = .abandoned
            return nil
        }
    }
}
