/// The calls of one module that may still overrun, oldest first, and when the watchdog should
/// look next. Pure bookkeeping (no clock, no thread): the watchdog thread of ``DecisionWorkers``
/// drives it with the monotonic time.
///
/// Why a watch list and not a timer per call: a dispatch timer per call cost a timer set-up, and a
/// thread wake-up when it fired at the deadline for every call, answered or not; two decisions
/// per mediation paid that twice (issue 18). Here an answered call costs nothing: the watchdog
/// drops it when it reaches the head of the list, in one pass per deadline.
struct DeadlineWatch<Call> {
    /// What the watchdog does next.
    enum Next: Equatable {
        /// Wait until this monotonic instant (nanoseconds), or until woken.
        case waitUntil(UInt64)
        /// Nothing has been watched for a whole `linger`: wait until `watch` wakes it.
        case waitForWork
    }

    private var entries: [(deadline: UInt64, call: Call)] = []
    private var head = 0
    /// Watches since the watchdog last looked: an idle module's watchdog goes to sleep only after
    /// a whole `linger` with none, so a busy one is never woken by `watch`.
    private var watchedSinceLook = 0
    /// Whether the watchdog waits with no time limit, so that the next `watch` must wake it.
    private(set) var asleep = false
    let linger: UInt64

    init(linger: UInt64) { self.linger = linger }

    var count: Int { entries.count - head }

    /// Adds a call; true when the watchdog must be woken to see it.
    ///
    /// A module's calls share one deadline length and are watched as they are submitted, so the
    /// list is in deadline order up to the few nanoseconds between two callers reading the clock
    /// and taking the lock: a call can be failed that much late, never early.
    mutating func watch(_ call: Call, until deadline: UInt64) -> Bool {
        entries.append((deadline, call))
        watchedSinceLook += 1
        guard asleep else { return false }
        asleep = false
        return true
    }

    /// At `now`: drops the calls `settled` says were answered, returns those past their deadline
    /// (oldest first) and when to look again.
    mutating func look(now: UInt64, settled: (Call) -> Bool) -> (due: [Call], next: Next) {
        var due: [Call] = []
        while head < entries.count {
            let entry = entries[head]
            let answered = settled(entry.call)
            if !answered && entry.deadline > now { break }
            if !answered { due.append(entry.call) }
            head += 1
        }
        if head == entries.count {
            entries.removeAll(keepingCapacity: entries.capacity <= 4096)
            head = 0
        } else if head > 1024 && head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
        defer { watchedSinceLook = 0 }
        if head < entries.count { return (due, .waitUntil(entries[head].deadline)) }
        if watchedSinceLook == 0 {
            asleep = true
            return (due, .waitForWork)
        }
        return (due, .waitUntil(now &+ linger))
    }

    /// Everything still watched, for a stop.
    mutating func removeAll() -> [Call] {
        defer {
            entries.removeAll()
            head = 0
        }
        return entries[head...].map(\.call)
    }
}
