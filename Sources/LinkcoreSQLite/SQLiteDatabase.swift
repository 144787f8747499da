import CSQLite

/// A failed SQLite call, with SQLite's own message and the statement involved.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public var code: Int32
    public var message: String
    public var sql: String?

    public init(code: Int32, message: String, sql: String? = nil) {
        self.code = code
        self.message = message
        self.sql = sql
    }

    public var isConstraintViolation: Bool { code & 0xff == SQLITE_CONSTRAINT }
    /// The disk (or its quota) is full: nothing was written, and the same write may succeed
    /// once space returns. SQLITE_IOERR_SHMSIZE is SQLite failing to grow the WAL index on a
    /// full filesystem: the same cause.
    public var isDiskFull: Bool { code & 0xff == SQLITE_FULL || code == SQLITE_IOERR | (19 << 8) }  // SQLITE_IOERR_SHMSIZE
    /// An I/O error (a failed fsync, read or write) or corruption: what is on disk is no longer
    /// known, so the connection must not be trusted again (see `GroupCommitQueue.Fault`).
    public var isUntrustworthy: Bool {
        guard !isDiskFull, code != SQLITE_IOERR | (12 << 8) else { return false }  // not SQLITE_IOERR_NOMEM
        return code & 0xff == SQLITE_IOERR || code & 0xff == SQLITE_CORRUPT
    }
    public var description: String { "SQLite error \(code): \(message)" + (sql.map { " in: \($0)" } ?? "") }
}

public enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// One SQLite connection. Not thread-safe by itself: its owner (a store) serialises access.
///
/// Opened in WAL mode with `synchronous = FULL`, so a committed transaction is on disk (the WAL
/// is fsynced at commit) before `transaction` returns: the basis of "acknowledged means durable".
public final class SQLiteDatabase {
    let handle: OpaquePointer
    public let path: String
    /// Opened read-only: it never commits (no group-commit metrics for it).
    public let readOnly: Bool
    private var statements: [String: Statement] = [:]

    /// `cacheMB`: the page cache of this connection. SQLite's default (2 MB) keeps a million-row
    /// index's random inserts going to the file; a store that grows that large wants more.
    public init(path: String, readOnly: Bool = false, cacheMB: Int = 2) throws {
        var db: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: "\(message) (\(path))")
        }
        handle = db
        self.path = path
        self.readOnly = readOnly
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 5000)
        if !readOnly {
            try execute("PRAGMA journal_mode = WAL")
            try execute("PRAGMA synchronous = FULL")
        }
        try execute("PRAGMA foreign_keys = ON")
        try execute("PRAGMA cache_size = -\(max(1, cacheMB) * 1024)")
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    func error(_ rc: Int32, sql: String? = nil) -> SQLiteError {
        SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// Runs one or more statements without results.
    public func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? "error"
            sqlite3_free(message)
            throw SQLiteError(code: rc, message: text, sql: sql)
        }
    }

    /// A prepared statement, cached by its SQL text for the life of the connection.
    public func statement(_ sql: String) throws -> Statement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        let statement = try Statement(database: self, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// Runs a statement with parameters and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [SQLiteValue] = []) throws -> [Row] {
        let statement = try self.statement(sql)
        try statement.bind(parameters)
        var rows: [Row] = []
        while let row = try statement.step() { rows.append(row) }
        statement.reset()
        return rows
    }

    /// Calls `body` for each row without collecting them (large scans).
    public func forEach(_ sql: String, _ parameters: [SQLiteValue] = [], _ body: (Row) throws -> Void) throws {
        let statement = try self.statement(sql)
        try statement.bind(parameters)
        defer { statement.reset() }
        while let row = try statement.step() { try body(row) }
    }

    public var changes: Int { Int(sqlite3_changes(handle)) }
    /// Whether a transaction is open: SQLite may roll one back by itself after a full disk or an
    /// I/O error, and a group commit must then not run more writes outside it.
    public var inTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Runs `body` in an IMMEDIATE transaction: committed (and durable) when it returns,
    /// rolled back when it throws.
    @discardableResult
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    public var userVersion: Int {
        get throws { Int(try query("PRAGMA user_version").first?.int(0) ?? 0) }
    }

    /// Applies the migrations after the schema's current version, each in its own transaction.
    /// `migrations[0]` brings an empty database to version 1, and so on.
    public func migrate(_ migrations: [String]) throws {
        let current = try userVersion
        guard current <= migrations.count else {
            throw SQLiteError(code: SQLITE_MISMATCH,
                message: "database schema version \(current) is newer than this build knows (\(migrations.count))")
        }
        for (index, sql) in migrations.enumerated() where index >= current {
            try transaction {
                try execute(sql)
                try execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }
}

/// A row's values, read by column index.
public struct Row: Sendable {
    public var values: [SQLiteValue]

    public func int(_ i: Int) -> Int64? { if case let .integer(v) = values[i] { return v }; return nil }
    public func double(_ i: Int) -> Double? {
        switch values[i] { case let .real(v): return v; case let .integer(v): return Double(v); default: return nil }
    }
    public func string(_ i: Int) -> String? { if case let .text(v) = values[i] { return v }; return nil }
    public func blob(_ i: Int) -> [UInt8]? {
        switch values[i] { case let .blob(v): return v; case .null: return nil; case let .text(t): return Array(t.utf8); default: return nil }
    }
    public func isNull(_ i: Int) -> Bool { values[i] == .null }
}

public final class Statement {
    private let database: SQLiteDatabase
    private let handle: OpaquePointer
    let sql: String

    init(database: SQLiteDatabase, sql: String) throws {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(database.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw database.error(rc, sql: sql) }
        self.database = database
        self.handle = statement
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func bind(_ values: [SQLiteValue]) throws {
        for (offset, value) in values.enumerated() {
            let i = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(handle, i)
            case let .integer(v): rc = sqlite3_bind_int64(handle, i, v)
            case let .real(v): rc = sqlite3_bind_double(handle, i, v)
            case let .text(v): rc = sqlite3_bind_text(handle, i, v, -1, lc_sqlite_transient())
            case let .blob(v):
                rc = v.withUnsafeBytes { sqlite3_bind_blob(handle, i, $0.baseAddress, Int32($0.count), lc_sqlite_transient()) }
            }
            guard rc == SQLITE_OK else { throw database.error(rc, sql: sql) }
        }
    }

    func step() throws -> Row? {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_DONE { return nil }
        guard rc == SQLITE_ROW else {
            let error = database.error(rc, sql: sql)
            sqlite3_reset(handle)
            throw error
        }
        let count = sqlite3_column_count(handle)
        var values: [SQLiteValue] = []
        values.reserveCapacity(Int(count))
        for i in 0..<count {
            switch sqlite3_column_type(handle, i) {
            case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(handle, i)))
            case SQLITE_FLOAT: values.append(.real(sqlite3_column_double(handle, i)))
            case SQLITE_TEXT:
                values.append(.text(sqlite3_column_text(handle, i).map { String(cString: $0) } ?? ""))
            case SQLITE_BLOB:
                let n = Int(sqlite3_column_bytes(handle, i))
                let bytes = sqlite3_column_blob(handle, i).map { Array(UnsafeRawBufferPointer(start: $0, count: n)) } ?? []
                values.append(.blob(bytes))
            default: values.append(.null)
            }
        }
        return Row(values: values)
    }
}
