import PostgresNIO
import LinkcoreInstruments
import LinkcoreStore
import Logging
import Synchronization

/// Batches concurrent writes into one transaction on one connection, as `GroupCommitQueue` does
/// for SQLite: writes that arrive while a batch is in flight wait for the next one, which then
/// carries all of them in one transaction, and so one commit (one WAL flush, and with a
/// synchronous standby one round trip to it). Each write returns only after the COMMIT that
/// carries it has succeeded; with several writes in a batch each runs after its own savepoint, so a
/// write that fails rolls back alone. If the COMMIT fails or the connection is lost, every write
/// of the batch fails with `StoreError.unavailable` (retryable): nothing was acknowledged.
///
/// Round trips, not the disk, bound a batch (one statement is one round trip to the server and
/// postgres-nio 1.33 does not pipeline: it sends a query only after the previous one's
/// ReadyForQuery). So the hot writes (access-log appends, link issuances) are carried by the
/// batch as bulk items: all of a kind in a constant number of statements (`PostgresBulk`), and
/// only a bulk statement that fails as a whole falls back to one savepoint per write.
final class PostgresGroupCommit: Sendable {
    let link: PostgresLink
    let maxBatch: Int
    /// Whether bulk items are carried in bulk (false: each alone after its savepoint, the
    /// general path; store-bench measures both in one run).
    let bulk: Bool
    private let state = Mutex(State())
    private let batchSizes: Recorder
    private let commitDurations: CoreMetrics.Timer

    private struct State {
        var pending: [Job] = []
        var draining = false
        var commits: UInt64 = 0
        var writes: UInt64 = 0
    }

    private struct Job: Sendable {
        /// Runs the write inside the batch's transaction; returns how to finish it once the
        /// batch's commit has succeeded or failed.
        let apply: @Sendable (PostgresSession, _ savepoint: Bool) async -> @Sendable (_ commitError: (any Error)?) -> Void
        let abandon: @Sendable (any Error) -> Void
        /// Set for a write the batch may carry together with others of its kind.
        var bulk: BulkItem? = nil
    }

    /// A bulk write: what to write, and how to answer its caller with the bulk statement's outcome
    /// for it (returning, as `apply` does, how to finish once the commit has succeeded or failed).
    struct BulkItem: Sendable {
        let kind: PostgresBulk.Kind
        let resolve: @Sendable (Result<any Sendable, any Error>) -> @Sendable (_ commitError: (any Error)?) -> Void
    }

    /// How long a batch may go without an answer from the server (connecting, or between two
    /// statements) before its connection is closed (see `run`): far above a statement's normal
    /// milliseconds, below the clients' usual deadlines.
    let batchTimeout: Duration

    init(link: PostgresLink, label: String, maxBatch: Int = 512, bulk: Bool = true, batchTimeout: Duration = .seconds(5)) {
        self.link = link
        self.batchTimeout = batchTimeout
        self.maxBatch = max(1, maxBatch)
        self.bulk = bulk
        batchSizes = LinkcoreMetric.groupCommitBatchSize.histogram([("database", label)])
        commitDurations = LinkcoreMetric.groupCommitDuration.timer([("database", label)])
    }

    /// Commits so far and the writes they carried.
    var counters: (commits: UInt64, writes: UInt64) { state.withLock { ($0.commits, $0.writes) } }

    func write<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) async throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in enqueue(Self.job(body, continuation, Once())) }
    }

    /// A write the batch carries with the others of its kind in a constant number of statements;
    /// `fallback` is the same write on its own, used when the bulk statement cannot take it.
    func bulkWrite<T: Sendable>(_ kind: PostgresBulk.Kind, fallback: @escaping @Sendable (PostgresSession) async throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let once = Once()
            var job = Self.job(fallback, continuation, once)
            job.bulk = BulkItem(kind: kind, resolve: { result in
                let outcome = result.flatMap { value -> Result<T, any Error> in
                    guard let value = value as? T else { return .failure(StoreError.unavailable("bulk write answered the wrong type")) }
                    return .success(value)
                }
                return { commitError in
                    guard once.claim() else { return }
                    if let commitError, case .success = outcome {
                        continuation.resume(throwing: commitError)
                    } else {
                        continuation.resume(with: outcome)
                    }
                }
            })
            enqueue(job)
        }
    }

    /// `once`: the caller is answered once, by its batch or by the batch's timeout, whichever is
    /// first (a batch abandoned at its timeout may still end later).
    private static func job<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) async throws -> T,
                                         _ continuation: CheckedContinuation<T, any Error>, _ once: Once) -> Job {
        Job(apply: { session, savepoint in
            let outcome: Result<T, any Error>
            do {
                if savepoint { try await session.execute("SAVEPOINT w") }
                do {
                    // No RELEASE: it would cost a round trip and free nothing (a released
                    // subtransaction's XID stays with the transaction). ROLLBACK TO the name
                    // goes back to the newest savepoint of that name: this write's.
                    outcome = .success(try await body(session))
                } catch {
                    if savepoint, !PostgresErrors.isConnectionLoss(error) {
                        try? await session.execute("ROLLBACK TO SAVEPOINT w")
                    }
                    throw error
                }
            } catch {
                outcome = .failure(PostgresErrors.map(error))
            }
            return { commitError in
                guard once.claim() else { return }
                if let commitError, case .success = outcome {
                    continuation.resume(throwing: commitError)
                } else {
                    continuation.resume(with: outcome)
                }
            }
        }, abandon: { error in if once.claim() { continuation.resume(throwing: error) } })
    }

    private func enqueue(_ job: Job) {
        let start = state.withLock { state -> Bool in
            state.pending.append(job)
            guard !state.draining else { return false }
            state.draining = true
            return true
        }
        if start { Task { await self.drain() } }
    }

    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Job] in
                let count = min(state.pending.count, maxBatch)
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                if batch.isEmpty { state.draining = false }
                return batch
            }
            if batch.isEmpty { return }
            await run(batch)
            state.withLock { $0.commits += 1; $0.writes += UInt64(batch.count) }
        }
    }

    /// Carries one batch, connecting included, as long as the server answers: `batchTimeout`
    /// without an answer (to the connect, or to the batch's last statement) ends it. A server that stops
    /// answering without closing the connection (its postmaster killed while a backend waits, its
    /// machine gone from the network, a commit waiting for a synchronous standby that is not
    /// there) would otherwise hold this batch, and every write queued behind it, forever; and so
    /// would a driver call that never returns once its connection is gone, which is what the
    /// failover test found (`PostgresDeadline`). At the timeout the batch's connection is closed
    /// and its writes are answered UNAVAILABLE (retryable) without waiting for the batch to
    /// end: the next batch reconnects down the host list. Left behind, the batch answers no one
    /// (`Once`) and commits nothing more (it checks `abandoned` before COMMIT).
    private func run(_ batch: [Job]) async {
        let progress = BatchProgress()
        let carried = try? await PostgresDeadline.run(within: batchTimeout, heartbeat: progress.heartbeat, onTimeout: { progress.abandon() }) { [self] in
            await self.carry(batch, progress)
            return true
        }
        guard carried == nil else { return }
        let (stage, session) = progress.snapshot
        link.logger.error("PostgreSQL did not finish a write batch in time; its connection is closed and its writes answered UNAVAILABLE",
                          metadata: ["connection": "\(link.name)", "timeout": "\(batchTimeout)", "stage": "\(stage)"])
        let why = stage == .commit
            ? "PostgreSQL did not confirm the commit within \(batchTimeout) (outcome unknown; retry)"
            : "PostgreSQL did not answer the write for \(batchTimeout) (at \(stage.rawValue); nothing was committed)"
        for job in batch { job.abandon(StoreError.unavailable(why)) }
        if let session {
            link.discard(session.connection)
            // Why, asked of the server on another connection: for the log and STATUS.
            Task { [link] in await link.explainStall(of: session) }
        }
    }

    private func carry(_ batch: [Job], _ progress: BatchProgress) async {
        let opened: PostgresLink.Session
        do {
            opened = try await link.session()
        } catch {
            for job in batch { job.abandon(PostgresErrors.map(error)) }
            return
        }
        let connection = opened.connection
        guard progress.begin(opened) else { return }
        let session = PostgresSession(connection: connection, logger: link.logger, heartbeat: progress.heartbeat)
        do {
            try await session.execute("BEGIN")
        } catch {
            link.discard(connection)
            for job in batch { job.abandon(PostgresErrors.map(error)) }
            return
        }
        progress.at(.writes)
        // One write alone needs no savepoint: its failure rolls back the whole transaction.
        let savepoints = batch.count > 1
        var finishers: [@Sendable ((any Error)?) -> Void] = []
        for job in batch where job.bulk == nil || !bulk { finishers.append(await job.apply(session, savepoints)) }
        for kind in PostgresBulk.Lane.allCases where bulk {
            let jobs = batch.filter { $0.bulk?.kind.lane == kind }
            if jobs.isEmpty { continue }
            let outcomes = await PostgresBulk.run(jobs.compactMap { $0.bulk?.kind }, in: session, savepoint: savepoints)
            for (job, outcome) in zip(jobs, outcomes) {
                if let outcome, let bulk = job.bulk {
                    finishers.append(bulk.resolve(outcome))
                } else {
                    // The bulk statement could not take it (it failed as a whole, or this row
                    // needs the general path): the write on its own, after its own savepoint.
                    finishers.append(await job.apply(session, savepoints))
                }
            }
        }
        // Abandoned at the timeout meanwhile: its callers have their answer; commit nothing.
        guard progress.at(.commit) else { return }
        var commitError: (any Error)?
        do {
            let started = ContinuousClock.now
            try await session.execute("COMMIT")
            commitDurations.recordElapsed(ContinuousClock.now - started)
            batchSizes.record(batch.count)
            link.committed()
        } catch {
            // A lost connection at COMMIT leaves the outcome unknown to us: the writes are
            // answered UNAVAILABLE (retryable), and every write the core makes is idempotent
            // under retry (matching numbers, idempotency keys, report ids, (operation, reference)).
            commitError = PostgresErrors.map(error)
            if PostgresErrors.isConnectionLoss(error) {
                link.discard(connection)
            } else {
                try? await session.execute("ROLLBACK")
            }
        }
        // A session that refuses writes (the server was made read-only, or demoted, after this
        // session was opened) is left, so the next batch walks the host list for a read-write one
        // instead of failing every write on it.
        if session.sawReadOnly { link.discard(connection) }
        for finish in finishers { finish(commitError) }
    }
}

/// Where a batch is, for the timeout: what to close, and what to say.
private final class BatchProgress: Sendable {
    enum Stage: String, Sendable { case connecting, begin = "BEGIN", writes, commit = "COMMIT" }
    private let state = Mutex<(stage: Stage, session: PostgresLink.Session?, abandoned: Bool)>((.connecting, nil, false))
    /// Beaten by every statement of the batch: the timeout is for a batch that stopped getting
    /// answers, not for a big one that is still moving.
    let heartbeat = Heartbeat()

    var snapshot: (Stage, PostgresLink.Session?) { state.withLock { ($0.stage, $0.session) } }

    func abandon() { state.withLock { $0.abandoned = true } }

    /// Records the session; false if the batch was abandoned meanwhile (then the session is left alone).
    func begin(_ session: PostgresLink.Session) -> Bool {
        state.withLock { s in
            guard !s.abandoned else { return false }
            s.session = session; s.stage = .begin
            return true
        }
    }

    /// Moves on; false if the batch was abandoned.
    @discardableResult
    func at(_ stage: Stage) -> Bool {
        state.withLock { s in
            guard !s.abandoned else { return false }
            s.stage = stage
            return true
        }
    }
}
