import Logging
import PostgresNIO

/// Why writes stopped being confirmed while the server still answers: said in the log and in
/// STATUS (`problem`, so the node reports NOT READY) rather than left to look like a loop of
/// UNAVAILABLE answers. The common case after a failover done by hand: the promoted standby
/// kept `synchronous_standby_names` (in postgresql.conf or postgresql.auto.conf, which
/// `pg_basebackup` copies) and has no standby of its own, so each COMMIT waits for one that is
/// not there (docs/store.md, "Failover of the database").
extension PostgresLink {
    /// A commit succeeded: whatever stalled the writes is over.
    func committed() {
        let was = state.withLock { s -> String? in defer { s.stall = nil }; return s.stall }
        if was != nil { logger.notice("PostgreSQL commits are confirmed again", metadata: ["connection": "\(name)"]) }
    }

    /// Asks the server, on a connection of its own, what `session`'s backend and this role's
    /// other backends are doing, and records the answer as the stall (STATUS, log). A backend
    /// waiting on `SyncRep` is a commit waiting for a synchronous standby; the batches after it
    /// then wait for its row locks (the chain's head), so any backend of ours in `SyncRep` says it.
    func explainStall(of session: Session) async {
        let asked = try? await PostgresDeadline.run(within: Self.connectTimeout, onTimeout: {}) { [self] in
            try await self.askServer(about: session)
        }
        let text: String
        if let answer = asked ?? nil {
            text = answer
        } else {
            text = "PostgreSQL did not confirm a write within the batch timeout and does not answer (\(session.endpoint))"
        }
        state.withLock { $0.stall = text }
        logger.error("PostgreSQL writes stalled", metadata: ["connection": "\(name)", "why": "\(text)"])
    }

    private func askServer(about session: Session) async throws -> String {
        let connection = try await PostgresConnection.connect(
            configuration: try settings.connectionConfiguration(for: session.endpoint),
            id: Self.ids.wrappingAdd(1, ordering: .relaxed).newValue, logger: logger)
        defer { Self.closeInBackground(connection) }
        let rows = try await connection.query("""
            SELECT coalesce((SELECT coalesce(wait_event_type || ':' || wait_event, state) FROM pg_stat_activity WHERE pid = \(session.backendPID)), 'gone'),
                   (SELECT count(*) FROM pg_stat_activity WHERE usename = current_user AND wait_event = 'SyncRep'),
                   current_setting('synchronous_standby_names'),
                   (SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum'))
            """, logger: logger)
        var answer: String?
        for try await (backend, waitingForStandby, names, standbys) in rows.decode((String, Int64, String, Int64).self) {
            if waitingForStandby > 0 {
                answer = "commits are waiting for a synchronous standby (\(session.endpoint): synchronous_standby_names = '\(names)', "
                    + "\(standbys) synchronous standby connected, \(waitingForStandby) commit(s) waiting): attach a standby, or on a "
                    + "promoted server without one clear it (ALTER SYSTEM RESET synchronous_standby_names; SELECT pg_reload_conf())"
            } else {
                answer = "PostgreSQL did not confirm a write within the batch timeout (\(session.endpoint): its backend was at \(backend))"
            }
        }
        return answer ?? "PostgreSQL did not confirm a write within the batch timeout (\(session.endpoint))"
    }
}
