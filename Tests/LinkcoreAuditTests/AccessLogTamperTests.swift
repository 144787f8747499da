import Foundation
import LinkcoreAudit
import LinkcorePKI
import LinkcoreSQLite
import LinkcoreStore
import Testing

/// A real store file, real checkpoint signatures under a dev PKI, and tampering done the way an
/// attacker with the file would: through SQLite, behind the store's back.
@Suite struct AccessLogTamperTests {
    let directory = NSTemporaryDirectory() + "audit-\(UUID().uuidString)"
    var dbPath: String { directory + "/core.sqlite" }
    var pki: DevPKIDirectory { DevPKIDirectory(path: directory + "/pki") }

    func record(_ i: Int, resident: UInt64) -> AccessRecord {
        AccessRecord(mediationID: "m\(i)", idCode: resident, atMs: 1_700_000_000_000 + Int64(i), requester: "CITY01",
                     provider: "PENSION01", bpID: "BP-\(i % 7)", infoType: "pension.amount",
                     outcome: i % 5 == 0 ? .refusedByWhitelist : .answered)
    }

    /// A store with `count` entries and a signed checkpoint after every `every` of them.
    func makeLog(count: Int, checkpointEvery every: Int) async throws -> SQLiteCoreStore {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try pki.initialise()
        let store = try SQLiteCoreStore(path: dbPath)
        let signer = CheckpointSigner(privateKeyPath: pki.serverKeyPath,
                                      certificatePEM: Array(try Data(contentsOf: URL(fileURLWithPath: pki.serverCertificatePath))))
        for i in 1...count {
            let chained = try await store.appendAccess(record(i, resident: UInt64(i % 3)))
            #expect(chained.position == UInt64(i))
            if i % every == 0 {
                try await store.addCheckpoint(try signer.sign(position: chained.position, hash: chained.hash, atMs: 1))
            }
        }
        return store
    }

    func verify(_ store: SQLiteCoreStore, pageSize: Int = 7) async throws -> ChainVerifier.Report {
        try await ChainVerifier.verify(checkpoints: try await store.checkpoints(),
                                       verifier: CheckpointVerifier(caBundlePath: pki.caCertificatePath),
                                       page: { try await store.accessChain(afterPosition: $0, limit: pageSize) })
    }

    func tamper(_ sql: String, _ values: [SQLiteValue] = []) throws {
        let db = try SQLiteDatabase(path: dbPath)
        try db.query(sql, values)
    }

    @Test func anIntactLogVerifiesWithItsCheckpoints() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await makeLog(count: 40, checkpointEvery: 10)
        let report = try await verify(store)
        #expect(report.ok)
        #expect(report.entriesChecked == 40)
        #expect(report.checkpointsChecked == 4)
        // The resident's view reads the same entries by ID code.
        let mine = try await store.accessEntries(idCode: 1, fromMs: 0, toMs: .max, afterPosition: 0, limit: 100)
        #expect(mine.map(\.position) == stride(from: 1, through: 40, by: 3).map { UInt64($0) })
    }

    @Test func anAlteredEntryIsReportedAtItsPosition() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await makeLog(count: 30, checkpointEvery: 10)
        try tamper("UPDATE access_log SET requester = 'BANK01' WHERE position = 17")
        let report = try await verify(store)
        #expect(report.problem == .altered)
        #expect(report.firstBadPosition == 17)
        #expect(report.entriesChecked == 16)
    }

    @Test func aDeletedEntryIsReportedAtItsPosition() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await makeLog(count: 30, checkpointEvery: 10)
        try tamper("DELETE FROM access_log WHERE position = 12")
        let report = try await verify(store)
        #expect(report.problem == .deleted)
        #expect(report.firstBadPosition == 12)
    }

    @Test func aTruncatedTailIsCaughtByTheCheckpointBeyondIt() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await makeLog(count: 30, checkpointEvery: 10)
        try tamper("DELETE FROM access_log WHERE position > 25")
        let report = try await verify(store)
        #expect(report.problem == .deleted)
        #expect(report.firstBadPosition == 26)
    }

    @Test func swappedEntriesAreReportedAsReordered() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await makeLog(count: 30, checkpointEvery: 10)
        // Swap whole rows 21 and 22, hashes included, keeping the positions in place (21 ends
        // a verifier page and 22 starts the next one).
        try tamper("UPDATE access_log SET position = -1 WHERE position = 21")
        try tamper("UPDATE access_log SET position = 21 WHERE position = 22")
        try tamper("UPDATE access_log SET position = 22 WHERE position = -1")
        let report = try await verify(store)
        #expect(report.problem == .reordered)
        #expect(report.firstBadPosition == 21)
    }

    @Test func aRewrittenChainIsCaughtBySignedCheckpoints() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await makeLog(count: 30, checkpointEvery: 10)
        // The attacker alters entry 14 and re-seals every later entry: each stored hash agrees.
        let db = try SQLiteDatabase(path: dbPath)
        var previous = try #require(try db.query("SELECT hash FROM access_log WHERE position = 13").first?.blob(0))
        for position in 14...30 {
            var entry = try #require(try await store.accessChain(afterPosition: UInt64(position - 1), limit: 1).first)
            if position == 14 { entry.record.outcome = .answered; entry.record.requester = "BANK01" }
            let hash = AccessChain.hash(previous: previous, position: UInt64(position), record: entry.record)
            try db.query("UPDATE access_log SET requester = ?, outcome = ?, hash = ? WHERE position = ?",
                         [.text(entry.record.requester), .integer(Int64(entry.record.outcome.rawValue)), .blob(hash), .integer(Int64(position))])
            previous = hash
        }
        let report = try await verify(store)
        #expect(report.problem == .altered)
        #expect(report.firstBadPosition == 11)  // first entry after the last good checkpoint (10)
        #expect(report.checkpointsChecked == 1)
    }

    @Test func forgedOrForeignCheckpointsAreRefused() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await makeLog(count: 20, checkpointEvery: 10)
        try tamper("UPDATE audit_checkpoints SET at_ms = at_ms + 1 WHERE position = 20")
        #expect(try await verify(store).problem == .badCheckpointSignature)

        // A checkpoint signed by a key of another CA does not count either.
        let other = DevPKIDirectory(path: directory + "/other")
        try other.initialise()
        let head = try #require(try await store.accessHead())
        let foreign = try CheckpointSigner(privateKeyPath: other.serverKeyPath,
                                           certificatePEM: Array(Data(contentsOf: URL(fileURLWithPath: other.serverCertificatePath))))
            .sign(position: head.position, hash: head.hash, atMs: 1)
        try tamper("DELETE FROM audit_checkpoints")
        try await store.addCheckpoint(foreign)
        let report = try await verify(store)
        #expect(report.problem == .untrustedCheckpointSigner)
        #expect(report.firstBadPosition == 20)
    }
}
