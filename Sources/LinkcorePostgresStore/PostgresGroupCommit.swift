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

    /// How long a batch may take before its connection is closed (see `run`): far above a
    /// batch's normal milliseconds, below the clients' usual deadlines.
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
        try await withCheckedThrowingContinuation { continuation in enqueue(Self.job(body, continuation)) }
    }

    /// A write the batch carries with the others of its kind in a constant number of statements;
    /// `fallback` is the same write on its own, used when the bulk statement cannot take it.
    func bulkWrite<T: Sendable>(_ kind: PostgresBulk.Kind, fallback: @escaping @Sendable (PostgresSession) async throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            var job = Self.job(fallback, continuation)
            job.bulk = BulkItem(kind: kind, resolve: { result in
                let outcome = result.flatMap { value -> Result<T, any Error> in
                    guard let value = value as? T else { return .failure(StoreError.unavailable("bulk write answered the wrong type")) }
                    return .success(value)
                }
                return { commitError in
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

    private static func job<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) async throws -> T,
                                         _ continuation: CheckedContinuation<T, any Error>) -> Job {
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
                if let commitError, case .success = outcome {
                    continuation.resume(throwing: commitError)
                } else {
                    continuation.resume(with: outcome)
                }
            }
        }, abandon: { continuation.resume(throwing: $0) })
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

    private func run(_ batch: [Job]) async {
        let connection: PostgresConnectionHandle
        do {
            connection = PostgresConnectionHandle(try await link.connection())
        } catch {
            for job in batch { job.abandon(PostgresErrors.map(error)) }
            return
        }
        // A server that stops answering without closing the connection (its postmaster killed
        // while a backend waits, its machine gone from the network, an old primary waiting for a
        // standby that has been promoted) would hold this batch, and every write queued behind
        // it, forever. So a batch that has not finished within `batchTimeout` has its connection
        // closed: the statement in flight fails, the writes are answered UNAVAILABLE (retryable;
        // nothing was acknowledged), and the next batch reconnects down the host list.
        let watchdog = Task { [link, batchTimeout] in
            try await Task.sleep(for: batchTimeout)
            link.logger.error("PostgreSQL did not finish a write batch; closing its connection",
                              metadata: ["connection": "\(link.name)", "timeout": "\(batchTimeout)"])
            link.discard(connection.connection)
        }
        defer { watchdog.cancel() }
        let session = PostgresSession(connection: connection.connection, logger: link.logger)
        do {
            try await session.execute("BEGIN")
        } catch {
            link.discard(connection.connection)
            for job in batch { job.abandon(PostgresErrors.map(error)) }
            return
        }
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
        var commitError: (any Error)?
        do {
            let started = ContinuousClock.now
            try await session.execute("COMMIT")
            commitDurations.recordElapsed(ContinuousClock.now - started)
            batchSizes.record(batch.count)
        } catch {
            // A lost connection at COMMIT leaves the outcome unknown to us: the writes are
            // answered UNAVAILABLE (retryable), and every write the core makes is idempotent
            // under retry (matching numbers, idempotency keys, report ids, (operation, reference)).
            commitError = PostgresErrors.map(error)
            if PostgresErrors.isConnectionLoss(error) {
                link.discard(connection.connection)
            } else {
                try? await session.execute("ROLLBACK")
            }
        }
        for finish in finishers { finish(commitError) }
    }
}

/// Wraps the connection for the batch (keeps `run` readable).
private struct PostgresConnectionHandle: Sendable {
    let connection: PostgresConnection
    init(_ connection: PostgresConnection) { self.connection = connection }
}
