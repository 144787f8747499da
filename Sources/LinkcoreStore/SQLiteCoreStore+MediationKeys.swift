import LinkcoreAudit
import LinkcoreSQLite

/// Idempotency keys of mediations (protocol.md §8), written in the transaction of the decision
/// they bind, so that a crash leaves either the entry with its binding or neither.
extension SQLiteCoreStore {
    static func binding(_ key: MediationKey, in db: SQLiteDatabase) throws -> MediationKeyBinding? {
        guard let row = try db.query("""
            SELECT fingerprint, mediation_id, position, answered FROM mediation_keys
            WHERE requester = ? AND idem_key = ? AND created_at >= ?
            """, [.text(key.requester), .text(key.key), .integer(key.notBeforeMs)]).first,
              let fingerprint = row.blob(0), let id = row.string(1), let position = row.int(2) else { return nil }
        return MediationKeyBinding(fingerprint: fingerprint, mediationID: id, position: UInt64(position), answered: row.int(3) == 1)
    }

    public func mediationKey(_ key: MediationKey) async throws -> MediationKeyBinding? {
        try await read { db in try Self.binding(key, in: db) }
    }

    public func appendMediation(_ record: AccessRecord, charge: FeeCharge?, key: MediationKey) async throws -> MediationWrite {
        try await write { db in
            // Read again inside the transaction: a concurrent request with the same key may have
            // bound it since the mediator looked.
            let bound = try Self.binding(key, in: db)
            if let bound, bound.fingerprint != key.fingerprint { throw StoreError.idempotencyKeyReused }
            if let bound, bound.answered {
                // The mediation was answered, logged and charged: a retry is the same mediation.
                // Answered again, it counts as a repeat on its entry (B's answer went out again);
                // not answered this time, nothing more about the resident went out: no write.
                guard record.outcome == .answered else { return .unchanged(mediationID: bound.mediationID) }
                try db.query("UPDATE access_log SET repeats = repeats + 1 WHERE position = ?", [.integer(Int64(bound.position))])
                return .repeated(mediationID: bound.mediationID, position: bound.position)
            }
            let chained = try Self.append(record, in: db)
            if let charge { try Self.insert(charge, in: db) }
            // A first decision binds the key (replacing an expired binding); an answer after
            // earlier unanswered attempts moves the binding to the answered entry.
            if bound == nil || record.outcome == .answered {
                try db.query("""
                    INSERT OR REPLACE INTO mediation_keys (requester, idem_key, fingerprint, mediation_id, position, answered, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, [.text(key.requester), .text(key.key), .blob(key.fingerprint), .text(record.mediationID),
                          .integer(Int64(chained.position)), .integer(record.outcome == .answered ? 1 : 0),
                          .integer(key.boundAtMs ?? record.atMs)])
            }
            return .appended(chained)
        }
    }

    @discardableResult
    public func purgeMediationKeys(beforeMs: Int64) async throws -> Int {
        try await write { db in
            try db.query("DELETE FROM mediation_keys WHERE created_at < ?", [.integer(beforeMs)])
            return db.changes
        }
    }
}
