import LinkcoreAudit
import LinkcoreStore
import PostgresNIO

/// Idempotency keys of mediations (protocol.md §8), written in the transaction of the decision
/// they bind, so that a crash leaves either the entry with its binding or neither.
extension PostgresCoreStore {
    /// `lock`: inside a write, the key's row is locked so that two nodes deciding the same key
    /// at once take turns (the second sees the first's binding).
    static func binding(_ key: MediationKey, in db: PostgresSession, lock: Bool) async throws -> MediationKeyBinding? {
        guard let row = try await db.first("""
            SELECT fingerprint, mediation_id, position, answered FROM mediation_keys
            WHERE requester = \(key.requester) AND idem_key = \(key.key) AND created_at >= \(key.notBeforeMs)
            \(unescaped: lock ? "FOR UPDATE" : "")
            """) else { return nil }
        return MediationKeyBinding(fingerprint: try row.bytes(0), mediationID: try row.string(1), position: UInt64(try row.int(2)),
                                   answered: try row.bool(3))
    }

    public func mediationKey(_ key: MediationKey) async throws -> MediationKeyBinding? {
        try await read { db in try await Self.binding(key, in: db, lock: false) }
    }

    public func appendMediation(_ record: AccessRecord, charge: FeeCharge?, key: MediationKey) async throws -> MediationWrite {
        // Carried in bulk by the batch (`PostgresBulk.appends`, the same decisions); the body is
        // the general path.
        try await writer.bulkWrite(.mediation(record, charge, key)) { db in
            let bound = try await Self.binding(key, in: db, lock: true)
            if let bound, bound.fingerprint != key.fingerprint { throw StoreError.idempotencyKeyReused }
            if let bound, bound.answered {
                guard record.outcome == .answered else { return .unchanged(mediationID: bound.mediationID) }
                try await db.execute("UPDATE access_log SET repeats = repeats + 1 WHERE position = \(Int64(bound.position))")
                return .repeated(mediationID: bound.mediationID, position: bound.position)
            }
            let chained = try await Self.append(record, in: db)
            if let charge { try await Self.insert(charge, in: db) }
            if bound == nil || record.outcome == .answered {
                try await db.execute("""
                    INSERT INTO mediation_keys (requester, idem_key, fingerprint, mediation_id, position, answered, created_at)
                    VALUES (\(key.requester), \(key.key), \(key.fingerprint.bytea), \(record.mediationID), \(Int64(chained.position)),
                            \(record.outcome == .answered), \(key.boundAtMs ?? record.atMs))
                    ON CONFLICT (requester, idem_key) DO UPDATE SET fingerprint = excluded.fingerprint,
                        mediation_id = excluded.mediation_id, position = excluded.position, answered = excluded.answered,
                        created_at = excluded.created_at
                    """)
            }
            return .appended(chained)
        }
    }

    @discardableResult
    public func purgeMediationKeys(beforeMs: Int64) async throws -> Int {
        try await write { db in
            try await db.rows("DELETE FROM mediation_keys WHERE created_at < \(beforeMs) RETURNING 1").count
        }
    }
}
