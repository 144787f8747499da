import LinkcoreAudit
import LinkcoreSQLite

extension SQLiteCoreStore {
    static let accessColumns = "position, mediation_id, id_code, at_ms, requester, provider, bp_id, info_type, outcome, hash, digest"

    static func chained(_ row: Row) -> ChainedRecord? {
        guard let position = row.int(0), let mediation = row.string(1), let id = row.int(2), let at = row.int(3),
              let requester = row.string(4), let provider = row.string(5), let bp = row.string(6),
              let info = row.string(7), let outcome = row.int(8).flatMap({ AccessOutcome(rawValue: Int($0)) }),
              let hash = row.blob(9) else { return nil }
        // `digest`: set from the switch to v2 on (AccessLeaf), NULL for v1 entries.
        let digest = row.blob(10)
        return ChainedRecord(position: UInt64(position),
                             record: AccessRecord(mediationID: mediation, idCode: UInt64(bitPattern: id), atMs: at, requester: requester,
                                                  provider: provider, bpID: bp, infoType: info, outcome: outcome, residentDigest: digest),
                             hash: hash)
    }

    public func appendAccess(_ record: AccessRecord, charge: FeeCharge?) async throws -> ChainedRecord {
        try await write { db in
            let chained = try Self.append(record, in: db)
            if let charge { try Self.insert(charge, in: db) }
            return chained
        }
    }

    /// Chains onto the last entry as this transaction sees it: read from the table rather than
    /// cached, so a group commit that fails leaves no stale head behind.
    static func append(_ record: AccessRecord, in db: SQLiteDatabase) throws -> ChainedRecord {
        let head = try db.query("SELECT position, hash FROM access_log ORDER BY position DESC LIMIT 1").first
        let position = UInt64(head?.int(0) ?? 0) + 1
        let previous = head?.blob(1) ?? AccessChain.genesis
        let hash = AccessChain.hash(previous: previous, position: position, record: record)
        try db.query("INSERT INTO access_log (\(accessColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     [.integer(Int64(position)), .text(record.mediationID), .integer(Int64(bitPattern: record.idCode)),
                      .integer(record.atMs), .text(record.requester), .text(record.provider), .text(record.bpID),
                      .text(record.infoType), .integer(Int64(record.outcome.rawValue)), .blob(hash),
                      record.residentDigest.map { .blob($0) } ?? .null])
        return ChainedRecord(position: position, record: record, hash: hash)
    }

    public func loggedAccess(idCode: UInt64, fromMs: Int64, toMs: Int64, afterPosition: UInt64, limit: Int) async throws -> [LoggedAccess] {
        try await read { db in
            try db.query("""
                SELECT \(Self.accessColumns), repeats FROM access_log
                WHERE id_code = ? AND at_ms >= ? AND at_ms < ? AND position > ? ORDER BY position LIMIT ?
                """, [.integer(Int64(bitPattern: idCode)), .integer(fromMs), .integer(toMs), .integer(Int64(afterPosition)),
                      .integer(Int64(limit))]).compactMap { row in
                Self.chained(row).map { LoggedAccess(chained: $0, repeats: UInt32(clamping: row.int(11) ?? 0)) }
            }
        }
    }

    public func loggedAccessNewestFirst(idCode: UInt64, fromMs: Int64, toMs: Int64, beforePosition: UInt64,
                                        limit: Int) async throws -> [LoggedAccess] {
        let before = beforePosition == 0 ? Int64.max : Int64(clamping: beforePosition)
        return try await read { db in
            try db.query("""
                SELECT \(Self.accessColumns), repeats FROM access_log
                WHERE id_code = ? AND at_ms >= ? AND at_ms < ? AND position < ? ORDER BY position DESC LIMIT ?
                """, [.integer(Int64(bitPattern: idCode)), .integer(fromMs), .integer(toMs), .integer(before),
                      .integer(Int64(limit))]).compactMap { row in
                Self.chained(row).map { LoggedAccess(chained: $0, repeats: UInt32(clamping: row.int(11) ?? 0)) }
            }
        }
    }

    public func accessHashes(positions: [UInt64]) async throws -> [UInt64: [UInt8]] {
        let wanted = Array(Set(positions.filter { $0 >= 1 }))
        guard !wanted.isEmpty else { return [:] }
        return try await read { db in
            var hashes: [UInt64: [UInt8]] = [:]
            // At most a page (500) of positions: one IN list, bound values only.
            let marks = Array(repeating: "?", count: wanted.count).joined(separator: ",")
            for row in try db.query("SELECT position, hash FROM access_log WHERE position IN (\(marks))",
                                    wanted.map { .integer(Int64(clamping: $0)) }) {
                if let position = row.int(0), let hash = row.blob(1) { hashes[UInt64(position)] = hash }
            }
            return hashes
        }
    }

    public func accessHead() async throws -> ChainedRecord? {
        try await read { db in
            try db.query("SELECT \(Self.accessColumns) FROM access_log ORDER BY position DESC LIMIT 1").first.flatMap(Self.chained)
        }
    }

    public func accessChain(afterPosition: UInt64, limit: Int) async throws -> [ChainedRecord] {
        try await read { db in
            try db.query("SELECT \(Self.accessColumns) FROM access_log WHERE position > ? ORDER BY position LIMIT ?",
                         [.integer(Int64(afterPosition)), .integer(Int64(limit))]).compactMap(Self.chained)
        }
    }

    public func addCheckpoint(_ checkpoint: AuditCheckpoint) async throws {
        try await write { db in
            try db.query("INSERT OR REPLACE INTO audit_checkpoints (position, hash, at_ms, signature, certificate) VALUES (?, ?, ?, ?, ?)",
                         [.integer(Int64(checkpoint.position)), .blob(checkpoint.hash), .integer(checkpoint.atMs),
                          .blob(checkpoint.signature), .blob(checkpoint.certificate)])
        }
    }

    static let checkpointQuery = "SELECT position, hash, at_ms, signature, certificate FROM audit_checkpoints"

    static func checkpoint(_ row: Row) -> AuditCheckpoint? {
        guard let position = row.int(0), let hash = row.blob(1), let at = row.int(2), let signature = row.blob(3),
              let certificate = row.blob(4) else { return nil }
        return AuditCheckpoint(position: UInt64(position), hash: hash, atMs: at, signature: signature, certificate: certificate)
    }

    public func checkpoints() async throws -> [AuditCheckpoint] {
        try await read { db in try db.query(Self.checkpointQuery + " ORDER BY position").compactMap(Self.checkpoint) }
    }

    public func checkpoints(fromPosition position: UInt64) async throws -> [AuditCheckpoint] {
        try await read { db in
            try db.query(Self.checkpointQuery + " WHERE position >= ? ORDER BY position", [.integer(Int64(clamping: position))])
                .compactMap(Self.checkpoint)
        }
    }

    public func newestCheckpoint() async throws -> AuditCheckpoint? {
        try await read { db in try db.query(Self.checkpointQuery + " ORDER BY position DESC LIMIT 1").first.flatMap(Self.checkpoint) }
    }
}
