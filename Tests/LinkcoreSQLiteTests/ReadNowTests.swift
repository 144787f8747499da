import Foundation
import LinkcoreSQLite
import Testing

/// `GroupCommitQueue.readNow` (issue 18): a read-only connection read on the caller's thread
/// sees every committed write, also while queued reads run on the same connection at once.
@Suite struct ReadNowTests {
    let path = NSTemporaryDirectory() + "readnow-\(UUID().uuidString).db"

    @Test func readsOnTheCallersThreadSeeCommittedWritesAlongsideQueuedReads() async throws {
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let db = try SQLiteDatabase(path: path)
        try db.migrate(["CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)"])
        let writer = GroupCommitQueue(database: db, label: "writer")
        let reader = GroupCommitQueue(database: try SQLiteDatabase(path: path, readOnly: true), label: "reader")
        let names = try await withThrowingTaskGroup(of: String?.self) { group in
            for i in 0..<200 {
                group.addTask {
                    try await writer.write { db in try db.query("INSERT INTO t (name) VALUES (?)", [.text("n\(i)")]) }
                    // Half inline, half through the queue, on the one read-only connection.
                    if i.isMultiple(of: 2) {
                        return try reader.readNow { db in try db.query("SELECT name FROM t WHERE name = ?", [.text("n\(i)")]).first?.string(0) }
                    }
                    return try await reader.read { db in try db.query("SELECT name FROM t WHERE name = ?", [.text("n\(i)")]).first?.string(0) }
                }
            }
            var found: [String] = []
            for try await name in group { if let name { found.append(name) } }
            return found
        }
        #expect(Set(names) == Set((0..<200).map { "n\($0)" }))
    }
}
