import Foundation
import LinkcoreSQLite
import Testing

@Suite struct GroupCommitQueueTests {
    let path = NSTemporaryDirectory() + "group-\(UUID().uuidString).db"

    func open() throws -> GroupCommitQueue {
        let db = try SQLiteDatabase(path: path)
        try db.migrate(["CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)"])
        return GroupCommitQueue(database: db, label: "test")
    }

    @Test func concurrentWritesShareCommitsAndAllSurviveAReopen() async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let queue = try open()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<400 {
                group.addTask { _ = try await queue.write { db in try db.query("INSERT INTO t (name) VALUES (?)", [.text("w\(i)")]) } }
            }
            try await group.waitForAll()
        }
        let (commits, writes) = queue.counters
        #expect(writes == 400)
        // 400 writers queued behind fsyncs must have been carried by fewer commits than writes.
        #expect(commits < writes)
        let reopened = try SQLiteDatabase(path: path)
        #expect(try reopened.query("SELECT count(*) FROM t").first?.int(0) == 400)
    }

    @Test func aFailingWriteRollsBackAloneAndItsGroupCommits() async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let queue = try open()
        try await queue.write { db in try db.query("INSERT INTO t (name) VALUES ('taken')") }
        let results = await withTaskGroup(of: (Int, Bool).self) { group -> [Int: Bool] in
            for i in 0..<50 {
                group.addTask {
                    do {
                        try await queue.write { db in
                            try db.query("INSERT INTO t (name) VALUES (?)", [.text("row\(i)")])
                            // Every fifth write collides after having written: it must vanish whole.
                            if i % 5 == 0 { try db.query("INSERT INTO t (name) VALUES ('taken')") }
                        }
                        return (i, true)
                    } catch {
                        return (i, false)
                    }
                }
            }
            var results: [Int: Bool] = [:]
            for await (i, ok) in group { results[i] = ok }
            return results
        }
        for i in 0..<50 { #expect(results[i] == (i % 5 != 0)) }
        let names = try await queue.read { db in try db.query("SELECT name FROM t").compactMap { $0.string(0) } }
        #expect(Set(names) == Set(["taken"] + (0..<50).filter { $0 % 5 != 0 }.map { "row\($0)" }))
    }

    @Test func aWriteReturnsItsValueAndReadsSeeCommittedState() async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let queue = try open()
        let id = try await queue.write { db -> Int64 in
            try db.query("INSERT INTO t (name) VALUES ('x')")
            return db.lastInsertRowID
        }
        let name = try await queue.read { db in try db.query("SELECT name FROM t WHERE id = ?", [.integer(id)]).first?.string(0) }
        #expect(name == "x")
    }
}
