import LinkcoreAudit
import LinkcoreStore
import PostgresNIO

/// The resident's view of the log (the portal's log page) in one query each, as on SQLite: the
/// protocol's defaults read the whole resident log, or one row per position.
extension PostgresCoreStore {
    public func loggedAccessNewestFirst(idCode: UInt64, fromMs: Int64, toMs: Int64, beforePosition: UInt64,
                                        limit: Int) async throws -> [LoggedAccess] {
        let before = beforePosition == 0 ? Int64.max : Int64(clamping: beforePosition)
        return try await read { db in
            try await db.rows("""
                SELECT \(unescaped: Self.accessColumns), repeats FROM access_log
                WHERE id_code = \(Int64(bitPattern: idCode)) AND at_ms >= \(fromMs) AND at_ms < \(toMs) AND position < \(before)
                ORDER BY position DESC LIMIT \(Int64(limit))
                """).compactMap { row in
                try Self.chained(row).map { LoggedAccess(chained: $0, repeats: UInt32(clamping: try row.int(11))) }
            }
        }
    }

    public func accessHashes(positions: [UInt64]) async throws -> [UInt64: [UInt8]] {
        let wanted = Array(Set(positions.filter { $0 >= 1 })).map { Int64(clamping: $0) }
        guard !wanted.isEmpty else { return [:] }
        return try await read { db in
            var hashes: [UInt64: [UInt8]] = [:]
            for row in try await db.rows("SELECT position, hash FROM access_log WHERE position = ANY(\(wanted)::bigint[])") {
                hashes[UInt64(try row.int(0))] = try row.bytes(1)
            }
            return hashes
        }
    }
}
