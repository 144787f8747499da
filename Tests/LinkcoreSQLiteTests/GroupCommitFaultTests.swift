import Foundation
import LinkcoreSQLite
import LinkcoreTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Faults of the machine under the group commit (issue 17, item 5). The daemon-level tests are
/// `MachineFaultTests` (LinkcoreIntegrationTests); these check the queue itself.
@Suite(.serialized) struct GroupCommitFaultTests {
    @Test func sqliteErrorsAreSortedIntoDiskFullAndUntrustworthy() {
        #expect(SQLiteError(code: 13, message: "database or disk is full").isDiskFull)       // SQLITE_FULL
        #expect(SQLiteError(code: 4874, message: "shm size").isDiskFull)                     // SQLITE_IOERR_SHMSIZE
        #expect(SQLiteError(code: 1034, message: "disk I/O error").isUntrustworthy)          // SQLITE_IOERR_FSYNC
        #expect(SQLiteError(code: 778, message: "disk I/O error").isUntrustworthy)           // SQLITE_IOERR_WRITE
        #expect(SQLiteError(code: 11, message: "malformed").isUntrustworthy)                 // SQLITE_CORRUPT
        for ordinary in [1, 5, 19, 2067, 3082] {  // error, busy, constraint, unique, IOERR_NOMEM
            let error = SQLiteError(code: Int32(ordinary), message: "")
            #expect(!error.isDiskFull && !error.isUntrustworthy, "\(ordinary)")
        }
    }

    /// A database on a 2 MB tmpfs (the tests run as root), filled: writes fail with
    /// `Fault.diskFull` and nothing of them is kept, the queue reports the fault; once space
    /// returns the next write commits, the fault clears, and a reopen finds exactly the writes
    /// that were acknowledged, in an intact file.
    @Test func aFullDiskRefusesWritesKeepsTheAcknowledgedOnesAndClearsWhenSpaceReturns() async throws {
        let directory = NSTemporaryDirectory() + "group-full-\(UUID().uuidString.prefix(8))"
        let tmpfs = Tmpfs()
        try tmpfs.mount(at: directory, size: "2m")
        defer {
            tmpfs.detach()
            try? FileManager.default.removeItem(atPath: directory)
        }
        let db = try SQLiteDatabase(path: directory + "/full.db")
        try db.migrate(["CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)"])
        let queue = GroupCommitQueue(database: db, label: "test-full")
        let filler = directory + "/filler"
        try Tmpfs.fill(filler)

        var acknowledged = 0
        var fault: GroupCommitQueue.Fault?
        let row = SQLiteValue.blob([UInt8](repeating: 7, count: 8_192))
        for _ in 0..<2_000 {
            do {
                try await queue.write { db in try db.query("INSERT INTO t (body) VALUES (?)", [row]) }
                acknowledged += 1
            } catch let error as GroupCommitQueue.Fault {
                fault = error
                break
            }
        }
        guard case .diskFull? = fault else { throw Failure("no disk-full refusal: \(String(describing: fault))") }
        guard case .diskFull? = queue.fault else { throw Failure("the queue reports \(String(describing: queue.fault))") }

        try FileManager.default.removeItem(atPath: filler)
        try await queue.write { db in try db.query("INSERT INTO t (body) VALUES (?)", [row]) }
        acknowledged += 1
        #expect(queue.fault == nil)

        let reopened = try SQLiteDatabase(path: directory + "/full.db", readOnly: true)
        #expect(try reopened.query("SELECT count(*) FROM t").first?.int(0) == Int64(acknowledged))
        #expect(try reopened.query("PRAGMA integrity_check").first?.string(0) == "ok")
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
