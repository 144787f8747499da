import Dispatch
import LinkcoreInstruments
import Synchronization

/// Owns one SQLite connection on a serial queue and commits writes in groups.
///
/// With `synchronous = FULL` every commit costs an fsync, so one transaction per write caps a
/// store at the disk's fsync rate. Here writes that arrive while a commit is in progress wait
/// for the next one, which then carries all of them: each write still returns only after the
/// commit that made it durable, but the fsync is shared. Each write runs in its own savepoint,
/// so a write that throws rolls back alone and leaves the rest of its group intact.
///
/// Faults of the machine (issue 17, item 5; docs/reliability.md): a full disk makes the queue
/// refuse writes with `Fault.diskFull` until a commit succeeds again; an I/O error (a failed
/// fsync above all) makes it refuse every write with `Fault.ioFailure` for the rest of the
/// process's life, because after a failed fsync the kernel may have dropped the dirty pages
/// and marked them clean: what the file holds is no longer known, and a later fsync that
/// succeeds proves nothing (PostgreSQL's "fsyncgate", 2018). Only a restart, which reads the
/// file and the WAL back from the disk, may trust it again.
public final class GroupCommitQueue: @unchecked Sendable {
    // @unchecked: `db` is only touched on `queue`; `state` is behind a Mutex.
    private let db: SQLiteDatabase
    private let queue: DispatchQueue
    private let state = Mutex(State())
    /// Held by `read` and `readNow` while they use `db` (see `readNow`).
    private let readAccess = Mutex(())
    /// Upper bound on writes per commit, so one group's latency stays bounded under load.
    public let maxGroupSize: Int
    /// `linkcore_group_commit_batch_size` and `..._fsync_duration_seconds` for this database
    /// (labelled with the queue's label); none for a read-only connection, which never commits.
    private let batchSizes: Recorder?
    private let commitDurations: CoreMetrics.Timer?

    /// Why the queue refuses writes; the error those writes fail with.
    public enum Fault: Error, Sendable, Equatable, CustomStringConvertible {
        /// The disk is full: nothing of the refused writes was written. Cleared by the next
        /// commit that succeeds (space returned).
        case diskFull(String)
        /// An fsync or another I/O on the database failed, or it read as corrupt: every write
        /// is refused until the process restarts.
        case ioFailure(String)

        public var isPermanent: Bool { if case .ioFailure = self { true } else { false } }

        public var description: String {
            switch self {
            case let .diskFull(why): "disk full, writes refused until space is freed (\(why))"
            case let .ioFailure(why): "I/O error on the database, writes refused until linkcored is restarted (\(why))"
            }
        }

        /// The fault an error of SQLite stands for, if any.
        static func of(_ error: any Error) -> Fault? {
            guard let error = error as? SQLiteError else { return error as? Fault }
            if error.isDiskFull { return .diskFull("SQLite \(error.code): \(error.message)") }
            if error.isUntrustworthy { return .ioFailure("SQLite \(error.code): \(error.message)") }
            return nil
        }
    }

    /// `linkcore_store_reachable{connection=...}` for this queue, when it is a store's writer:
    /// 0 while it refuses writes for a fault. Looked up when set, not kept (see PostgresLink).
    private let reachabilityName: String?

    private struct State {
        var fault: Fault?
        var pending: [Job] = []
        var draining = false
        var commits: UInt64 = 0
        var writes: UInt64 = 0
    }

    private struct Job: Sendable {
        /// Runs the write inside the group's transaction; returns its own error, if any, and
        /// how to finish it once the group's commit has succeeded or failed.
        let apply: @Sendable (SQLiteDatabase) -> (error: (any Error)?, finish: @Sendable (_ commitError: (any Error)?) -> Void)
        /// Fails the write without running it (the group's transaction could not begin).
        let abandon: @Sendable (any Error) -> Void
    }

    /// `reachabilityName`: report this queue's faults as `linkcore_store_reachable` under that
    /// connection name (the core store's writer: "write", as the PostgreSQL engine names it).
    public init(database: SQLiteDatabase, label: String, maxGroupSize: Int = 1024, reachabilityName: String? = nil) {
        db = database
        self.reachabilityName = reachabilityName
        queue = DispatchQueue(label: label)
        self.maxGroupSize = max(1, maxGroupSize)
        batchSizes = database.readOnly ? nil : LinkcoreMetric.groupCommitBatchSize.histogram([("database", label)])
        commitDurations = database.readOnly ? nil : LinkcoreMetric.groupCommitDuration.timer([("database", label)])
    }

    /// Commits so far and writes they carried (writes / commits is the mean group size).
    public var counters: (commits: UInt64, writes: UInt64) {
        state.withLock { ($0.commits, $0.writes) }
    }

    /// Why writes are refused now, or nil.
    public var fault: Fault? { state.withLock { $0.fault } }

    /// Records a fault seen by a write (a permanent one is never replaced or cleared), or clears
    /// a disk-full one (`nil`, after a commit succeeded).
    private func note(_ fault: Fault?) {
        let changed = state.withLock { state -> Bool in
            if state.fault?.isPermanent == true || state.fault == fault { return false }
            if fault == nil, state.fault == nil { return false }
            state.fault = fault
            return true
        }
        if changed, let reachabilityName {
            LinkcoreMetric.storeReachable.gauge([("connection", reachabilityName)]).record(fault == nil ? 1 : 0)
        }
    }

    /// The error a caller gets for a failed write: the fault it stands for, when it stands for
    /// one (the caller then knows it is the machine, not its request), else SQLite's.
    private func mapped(_ error: any Error) -> any Error { Fault.of(error) ?? error }

    /// Runs `body` on the connection outside any group transaction: for reads, and for the
    /// rare write that needs a transaction of its own (migrations, administration).
    public func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabase) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try self.readAccess.withLock { _ in try body(self.db) } }) }
        }
    }

    /// Runs `body` on the caller's thread, serialised with `read` by a lock: for the short
    /// indexed lookups of the mediation path on a read-only connection, which otherwise hop to
    /// the queue's thread and back (two thread wake-ups each; issue 18's profile). A read-only
    /// connection only: a writing one is also used by the group commit, outside this lock.
    public func readNow<T: Sendable>(_ body: (SQLiteDatabase) throws -> T) throws -> T {
        assert(db.readOnly, "readNow on a connection that writes")
        return try readAccess.withLock { _ in try body(db) }
    }

    /// Runs `body` inside the next group commit and returns once that commit is durable.
    /// `body` must not begin or end transactions itself.
    public func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabase) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(Job(apply: { db in
                let outcome: Result<T, any Error>
                do {
                    try db.execute("SAVEPOINT write")
                    do {
                        let value = try body(db)
                        try db.execute("RELEASE write")
                        outcome = .success(value)
                    } catch {
                        try? db.execute("ROLLBACK TO write; RELEASE write")
                        throw error
                    }
                } catch {
                    outcome = .failure(self.mapped(error))
                }
                let error: (any Error)? = if case let .failure(failure) = outcome { failure } else { nil }
                return (error, { commitError in
                    if let commitError, case .success = outcome {
                        continuation.resume(throwing: commitError)
                    } else {
                        continuation.resume(with: outcome)
                    }
                })
            }, abandon: { continuation.resume(throwing: $0) }))
        }
    }

    private func enqueue(_ job: Job) {
        let start = state.withLock { state -> Bool in
            state.pending.append(job)
            guard !state.draining else { return false }
            state.draining = true
            return true
        }
        if start { queue.async { self.drain() } }
    }

    /// One group: everything pending (up to the cap) in one transaction, then one fsync.
    private func drain() {
        let batch = state.withLock { state -> [Job] in
            let count = min(state.pending.count, maxGroupSize)
            let batch = Array(state.pending.prefix(count))
            state.pending.removeFirst(count)
            return batch
        }
        if let fault = state.withLock({ $0.fault }), fault.isPermanent {
            // Never touch the database again in this process (see the type's comment).
            for job in batch { job.abandon(fault) }
        } else {
            commit(batch)
        }
        let more = state.withLock { state -> Bool in
            state.commits += 1
            state.writes += UInt64(batch.count)
            if state.pending.isEmpty {
                state.draining = false
                return false
            }
            return true
        }
        if more { queue.async { self.drain() } }
    }

    /// Runs `batch` in one transaction and commits it, noting the faults it meets.
    private func commit(_ batch: [Job]) {
        do {
            try db.execute("BEGIN IMMEDIATE")
        } catch {
            let error = mapped(error)
            note(Fault.of(error))
            for job in batch { job.abandon(error) }
            return
        }
        var finishers: [@Sendable ((any Error)?) -> Void] = []
        var lost: (any Error)?
        for (index, job) in batch.enumerated() {
            let (error, finish) = job.apply(db)
            finishers.append(finish)
            if let error, let fault = Fault.of(error) { note(fault) }
            // SQLite may roll the whole transaction back after a full disk or an I/O error: the
            // writes before are gone, and those after must not run outside a transaction.
            if !db.inTransaction {
                let reason = error ?? SQLiteError(code: 1, message: "SQLite rolled the group's transaction back")
                lost = reason
                for rest in batch[(index + 1)...] { rest.abandon(reason) }
                break
            }
        }
        var commitError = lost
        if lost == nil {
            do {
                // COMMIT is where synchronous=FULL waits for the fsync: its time is the disk's.
                let started = ContinuousClock.now
                try db.execute("COMMIT")
                commitDurations?.recordElapsed(ContinuousClock.now - started)
                batchSizes?.record(finishers.count)
                note(nil)
            } catch {
                try? db.execute("ROLLBACK")
                commitError = mapped(error)
                note(Fault.of(error))
            }
        }
        for finish in finishers { finish(commitError) }
    }
}
