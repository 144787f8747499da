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

    private struct State {
        var pending: [Job] = []
        var draining = false
        var commits: UInt64 = 0
        var writes: UInt64 = 0
    }

    private struct Job: Sendable {
        /// Runs the write inside the group's transaction; returns how to finish it once the
        /// group's commit has succeeded or failed.
        let apply: @Sendable (SQLiteDatabase) -> @Sendable (_ commitError: (any Error)?) -> Void
        /// Fails the write without running it (the group's transaction could not begin).
        let abandon: @Sendable (any Error) -> Void
    }

    public init(database: SQLiteDatabase, label: String, maxGroupSize: Int = 1024) {
        db = database
        queue = DispatchQueue(label: label)
        self.maxGroupSize = max(1, maxGroupSize)
        batchSizes = database.readOnly ? nil : LinkcoreMetric.groupCommitBatchSize.histogram([("database", label)])
        commitDurations = database.readOnly ? nil : LinkcoreMetric.groupCommitDuration.timer([("database", label)])
    }

    /// Commits so far and writes they carried (writes / commits is the mean group size).
    public var counters: (commits: UInt64, writes: UInt64) {
        state.withLock { ($0.commits, $0.writes) }
    }

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
                    outcome = .failure(error)
                }
                return { commitError in
                    if let commitError, case .success = outcome {
                        continuation.resume(throwing: commitError)
                    } else {
                        continuation.resume(with: outcome)
                    }
                }
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
        do {
            try db.execute("BEGIN IMMEDIATE")
            let finishers = batch.map { $0.apply(db) }
            var commitError: (any Error)?
            do {
                // COMMIT is where synchronous=FULL waits for the fsync: its time is the disk's.
                let started = ContinuousClock.now
                try db.execute("COMMIT")
                commitDurations?.recordElapsed(ContinuousClock.now - started)
                batchSizes?.record(batch.count)
            } catch {
                try? db.execute("ROLLBACK")
                commitError = error
            }
            for finish in finishers { finish(commitError) }
        } catch {
            for job in batch { job.abandon(error) }
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
}
