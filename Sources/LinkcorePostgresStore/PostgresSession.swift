import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// A connection lent to one store operation: inside a batch's transaction for writes, on its own
/// (autocommit) for reads. Rows are read whole, and decoded through `Columns`.
struct PostgresSession: Sendable {
    let connection: PostgresConnection
    let logger: Logger
    /// Beaten after every statement answered (or refused): what the timeouts count from.
    var heartbeat: Heartbeat? = nil
    private let readOnly = Flag()

    /// Whether a statement was refused because the session is read-only (SQLSTATE 25006): the
    /// server was made read-only or demoted since the session was opened, so it is to be left.
    var sawReadOnly: Bool { readOnly.isSet }

    @discardableResult
    func rows(_ query: PostgresQuery) async throws -> [Columns] {
        var out: [Columns] = []
        do {
            for try await row in try await connection.query(query, logger: logger) { out.append(Columns(row: row.makeRandomAccess())) }
        } catch {
            heartbeat?.beat()
            if PostgresErrors.sqlState(error) == "25006" { readOnly.set() }
            throw error
        }
        heartbeat?.beat()
        return out
    }

    func execute(_ query: PostgresQuery) async throws {
        try await rows(query)
    }

    func first(_ query: PostgresQuery) async throws -> Columns? { try await rows(query).first }
}

/// One row, by column index, with the decodings the store uses (every integer column is BIGINT).
struct Columns: Sendable {
    let row: PostgresRandomAccessRow

    func int(_ i: Int) throws -> Int64 { try row[i].decode(Int64.self) }
    func optionalInt(_ i: Int) throws -> Int64? { try row[i].decode(Int64?.self) }
    func string(_ i: Int) throws -> String { try row[i].decode(String.self) }
    func bool(_ i: Int) throws -> Bool { try row[i].decode(Bool.self) }
    func bytes(_ i: Int) throws -> [UInt8] {
        let buffer = try row[i].decode(ByteBuffer.self)
        return Array(buffer.readableBytesView)
    }
    func optionalBytes(_ i: Int) throws -> [UInt8]? {
        try row[i].decode(ByteBuffer?.self).map { Array($0.readableBytesView) }
    }
}

extension Array where Element == UInt8 {
    /// As a BYTEA parameter.
    var bytea: ByteBuffer { ByteBuffer(bytes: self) }
}

/// A flag set once, shared by the copies of a session.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
