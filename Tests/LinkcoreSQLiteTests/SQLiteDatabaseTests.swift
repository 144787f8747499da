import Foundation
import LinkcoreSQLite
import Testing

@Suite struct SQLiteDatabaseTests {
    let path = NSTemporaryDirectory() + "sqlite-\(UUID().uuidString).db"

    @Test func migratesOnceAndKeepsCommittedRowsAcrossConnections() throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let migrations = ["CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, data BLOB)",
                          "ALTER TABLE t ADD COLUMN extra REAL"]
        do {
            let db = try SQLiteDatabase(path: path)
            try db.migrate(migrations)
            #expect(try db.userVersion == 2)
            try db.transaction {
                try db.query("INSERT INTO t (name, data, extra) VALUES (?, ?, ?)", [.text("一"), .blob([0, 1, 2]), .real(1.5)])
            }
            #expect(try db.query("PRAGMA journal_mode").first?.string(0) == "wal")
        }
        let reopened = try SQLiteDatabase(path: path)
        try reopened.migrate(migrations)  // already current: a no-op
        let rows = try reopened.query("SELECT name, data, extra FROM t")
        #expect(rows.count == 1)
        #expect(rows[0].string(0) == "一")
        #expect(rows[0].blob(1) == [0, 1, 2])
        #expect(rows[0].double(2) == 1.5)
    }

    @Test func aThrowingTransactionLeavesNothingBehind() throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let db = try SQLiteDatabase(path: path)
        try db.migrate(["CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"])
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try db.transaction {
                try db.query("INSERT INTO t (name) VALUES ('a')")
                throw Abort()
            }
        }
        #expect(try db.query("SELECT count(*) FROM t").first?.int(0) == 0)
        try db.query("INSERT INTO t (name) VALUES ('a')")
        do {
            try db.query("INSERT INTO t (name) VALUES ('a')")
            Issue.record("duplicate accepted")
        } catch let error as SQLiteError {
            #expect(error.isConstraintViolation)
        }
    }

    @Test func refusesASchemaNewerThanTheBuild() throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let db = try SQLiteDatabase(path: path)
        try db.execute("PRAGMA user_version = 9")
        #expect(throws: SQLiteError.self) { try db.migrate(["CREATE TABLE t (x)"]) }
    }
}
