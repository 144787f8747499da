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
        /// Threads waiting for a job. A submit wakes one only when one waits: under load the
        /// threads go from job to job without a wake-up through the kernel (issue 18).
        var idle = 0
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    let count: Int
    /// Bound on queued jobs: beyond it the module is plainly not keeping up.
    private let maxQueued: Int

    /// Calls whose caller waits, watched by one thread against their deadline.
    private let watched: Mutex<DeadlineWatch<AsyncPendingCall>>
    private let watchdogWake = DispatchSemaphore(value: 0)
    private let watchdogStopping = Atomic<Bool>(false)
    private let deadlineNanos: UInt64
    private let overrun: PolicyError
    private let overrunCount = Atomic<Int>(0)

    /// `deadlineNanos` bounds each call submitted with a waiting caller; `overrun` is what that
    /// caller gets when it passes.
    init(count: Int, label: String, deadlineNanos: UInt64, overrun: PolicyError) {
        self.count = max(1, count)
        self.maxQueued = 1024 * self.count
        self.deadlineNanos = deadlineNanos
        self.overrun = overrun
        // An idle module's watchdog sleeps after one deadline (at least 10 ms) with no call.
        self.watched = Mutex(DeadlineWatch(linger: max(deadlineNanos, 10_000_000)))
        for i in 0..<self.count {
            let thread = Thread { [self] in self.run() }
            thread.name = "policy-\(label)-\(i)"
            thread.start()
        }
        let watchdog = Thread { [self] in self.runWatchdog() }
        watchdog.name = "policy-\(label)-watch"
        watchdog.start()
    }

    /// Queues a call whose caller waits for `pending`: answered by a worker or, at the deadline,
    /// failed by the watchdog, whichever comes first. False when the module refuses work.
    func submit(_ job: @escaping Job, answering pending: AsyncPendingCall) -> Bool {
        let deadline = DispatchTime.now().uptimeNanoseconds &+ deadlineNanos
        guard submit(job) else { return false }
        if watched.withLock({ $0.watch(pending, until: deadline) }) { watchdogWake.signal() }
        return true
    }

    /// Calls that overran their deadline so far.
    var overruns: Int { overrunCount.load(ordering: .relaxed) }

    /// Waits on the monotonic clock (DispatchTime), so a wall clock that jumps neither fires nor
    /// holds back a deadline.
    private func runWatchdog() {
        while !watchdogStopping.load(ordering: .relaxed) {
            let now = DispatchTime.now().uptimeNanoseconds
            let (due, next) = watched.withLock { list in list.look(now: now) { pending in pending.isSettled } }
            for pending in due { expire(pending) }
            switch next {
            case .waitUntil(let instant): _ = watchdogWake.wait(timeout: DispatchTime(uptimeNanoseconds: instant))
            case .waitForWork: watchdogWake.wait()
            }
        }
        // Callers still waiting at a stop get the failure now rather than never.
        for pending in watched.withLock({ $0.removeAll() }) { expire(pending) }
    }

    private func expire(_ pending: AsyncPendingCall) {
        pending.expire(overrun) {
            markStuck()
            overrunCount.add(1, ordering: .relaxed)
        }
    }

    /// Queues a job; false when every thread is stuck or the queue is full.
    func submit(_ job: @escaping Job) -> Bool {
        let (accepted, signal) = state.withLock { s -> (Bool, Bool) in
            guard !s.stopping, s.stuck < count, s.jobs.count - s.head < maxQueued else { return (false, false) }
            s.jobs.append(job)
            guard s.idle > 0 else { return (true, false) }
            // Each signal is matched by one waiter leaving `idle`, so none is lost or doubled.
            s.idle -= 1
            return (true, true)
        }
        if signal { wake.signal() }
        return accepted
    }

    func markStuck() { state.withLock { $0.stuck += 1 } }
    func markUnstuck() { state.withLock { $0.stuck -= 1 } }
    var stuck: Int { state.withLock { $0.stuck } }

    /// Lets the threads finish: idle ones exit now, a stuck one when its call returns.
    func stop() {
        let waiting = state.withLock { s -> Int in
            s.stopping = true
            defer { s.idle = 0 }
            return s.idle
        }
        for _ in 0..<waiting { wake.signal() }
        watchdogStopping.store(true, ordering: .relaxed)
        watchdogWake.signal()
    }

    private func run() {
        while true {
            enum Next { case job(Job?), wait, exit }
            let next = state.withLock { s -> Next in
                if s.head < s.jobs.count {
                    let job = s.jobs[s.head]
                    s.jobs[s.head] = nil
                    s.head += 1
                    if s.head > 64 && s.head * 2 > s.jobs.count {
                        s.jobs.removeFirst(s.head)
                        s.head = 0
                    }
                    return .job(job)
                }
                if s.stopping { return .exit }
                s.idle += 1
                return .wait
            }
            switch next {
            case .job(let job): job?()
            case .wait: wake.wait()
            case .exit: return
            }
        }
    }
}

/// The same rendezvous for an async caller: the continuation is resumed by the worker with the
/// answer or by the watchdog with the failure at the deadline, whichever comes first.
final class AsyncPendingCall: Sendable {
    typealias Continuation = CheckedContinuation<Result<[UInt8], PolicyError>, Never>

    private enum State {
        case waiting(Continuation)
        case done
        case abandoned
    }

    private let state: Mutex<State>

    init(_ continuation: Continuation) { state = Mutex(.waiting(continuation)) }

    /// Whether the caller has had its answer (from the worker or the deadline).
    var isSettled: Bool {
        state.withLock { s in
            if case .waiting = s { return false }
            return true
        }
    }

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

    /// The watchdog's side: when the call is still running it is abandoned, `abandoned` runs (the
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
