import LinkcoreAudit
import LinkcoreStore
import PostgresNIO

extension PostgresCoreStore {
    static let accessColumns = "position, mediation_id, id_code, at_ms, requester, provider, bp_id, info_type, outcome, hash, digest"

    static func chained(_ row: Columns) throws -> ChainedRecord? {
        guard let outcome = AccessOutcome(rawValue: Int(try row.int(8))) else { return nil }
        return ChainedRecord(position: UInt64(try row.int(0)),
                             record: AccessRecord(mediationID: try row.string(1), idCode: UInt64(bitPattern: try row.int(2)),
                                                  atMs: try row.int(3), requester: try row.string(4), provider: try row.string(5),
                                                  bpID: try row.string(6), infoType: try row.string(7), outcome: outcome,
                                                  residentDigest: try row.optionalBytes(10)),
                             hash: try row.bytes(9))
    }

    public func appendAccess(_ record: AccessRecord, charge: FeeCharge?) async throws -> ChainedRecord {
        // Carried in bulk by the batch (`PostgresBulk.appends`); the body is the general path.
        try await writer.bulkWrite(.append(record, charge)) { db in
            let chained = try await Self.append(record, in: db)
            if let charge { try await Self.insert(charge, in: db) }
            return chained
        }
    }

    /// Chains onto the head row, locked FOR UPDATE until this transaction ends: one chain in the
    /// order the database grants the lock, whichever connection (or node) appends. A batch takes
    /// the lock once (later appends in it already hold it), so the lock costs one wait per batch.
    static func append(_ record: AccessRecord, in db: PostgresSession) async throws -> ChainedRecord {
        guard let head = try await db.first("SELECT position, hash FROM access_head WHERE id = 1 FOR UPDATE") else {
            throw StoreError.unavailable("the access log's head row is missing")
        }
        let position = UInt64(try head.int(0)) + 1
        let hash = AccessChain.hash(previous: try head.bytes(1), position: position, record: record)
        try await db.execute("""
            INSERT INTO access_log (\(unescaped: accessColumns)) VALUES (\(Int64(position)), \(record.mediationID),
                \(Int64(bitPattern: record.idCode)), \(record.atMs), \(record.requester), \(record.provider), \(record.bpID),
                \(record.infoType), \(Int64(record.outcome.rawValue)), \(hash.bytea), \(record.residentDigest?.bytea))
            """)
        try await db.execute("UPDATE access_head SET position = \(Int64(position)), hash = \(hash.bytea) WHERE id = 1")
        return ChainedRecord(position: position, record: record, hash: hash)
    }

    public func loggedAccess(idCode: UInt64, fromMs: Int64, toMs: Int64, afterPosition: UInt64, limit: Int) async throws -> [LoggedAccess] {
        try await read { db in
            try await db.rows("""
                SELECT \(unescaped: Self.accessColumns), repeats FROM access_log
                WHERE id_code = \(Int64(bitPattern: idCode)) AND at_ms >= \(fromMs) AND at_ms < \(toMs) AND position > \(Int64(clamping: afterPosition))
                ORDER BY position LIMIT \(Int64(limit))
                """).compactMap { row in
                try Self.chained(row).map { LoggedAccess(chained: $0, repeats: UInt32(clamping: try row.int(11))) }
            }
        }
    }

    public func accessHead() async throws -> ChainedRecord? {
        try await read { db in
            try await db.first("SELECT \(unescaped: Self.accessColumns) FROM access_log ORDER BY position DESC LIMIT 1").flatMap(Self.chained)
        }
    }

    public func accessChain(afterPosition: UInt64, limit: Int) async throws -> [ChainedRecord] {
        try await read { db in
            try await db.rows("""
                SELECT \(unescaped: Self.accessColumns) FROM access_log WHERE position > \(Int64(clamping: afterPosition))
                ORDER BY position LIMIT \(Int64(limit))
                """).compactMap(Self.chained)
        }
    }

    public func addCheckpoint(_ checkpoint: AuditCheckpoint) async throws {
        try await write { db in
            try await db.execute("""
                INSERT INTO audit_checkpoints (position, hash, at_ms, signature, certificate)
                VALUES (\(Int64(clamping: checkpoint.position)), \(checkpoint.hash.bytea), \(checkpoint.atMs), \(checkpoint.signature.bytea),
                        \(checkpoint.certificate.bytea))
                ON CONFLICT (position) DO UPDATE SET hash = excluded.hash, at_ms = excluded.at_ms, signature = excluded.signature,
                    certificate = excluded.certificate
                """)
        }
    }

    static let checkpointQuery = "SELECT position, hash, at_ms, signature, certificate FROM audit_checkpoints"

    static func checkpoint(_ row: Columns) throws -> AuditCheckpoint {
        AuditCheckpoint(position: UInt64(try row.int(0)), hash: try row.bytes(1), atMs: try row.int(2), signature: try row.bytes(3),
                        certificate: try row.bytes(4))
    }

    public func checkpoints() async throws -> [AuditCheckpoint] {
        try await read { db in try await db.rows("\(unescaped: Self.checkpointQuery) ORDER BY position").map(Self.checkpoint) }
    }

    public func checkpoints(fromPosition position: UInt64) async throws -> [AuditCheckpoint] {
        try await read { db in
            try await db.rows("\(unescaped: Self.checkpointQuery) WHERE position >= \(Int64(clamping: position)) ORDER BY position")
                .map(Self.checkpoint)
        }
    }

    public func newestCheckpoint() async throws -> AuditCheckpoint? {
        try await read { db in
            try await db.first("\(unescaped: Self.checkpointQuery) ORDER BY position DESC LIMIT 1").map(Self.checkpoint)
        }
    }
}
