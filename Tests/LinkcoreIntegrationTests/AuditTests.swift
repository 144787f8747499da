import Foundation
import LinkcoreAudit
import LinkcoreSQLite
import Testing

/// The access log written by real mediations through a real daemon, checkpoints signed by the
/// daemon itself, tampering done on the database file, verification by the real `linkctl`.
@Suite(.serialized) struct AuditTests {
    func network() async throws -> (MediationNetwork, SQLiteDatabase) {
        let net = try await MediationNetwork(requesters: ["CITY01"], providers: ["TAX01"], audit: "checkpoint_interval_ms = 100")
        let residents = (10...14).map { "400000000\($0)" }
        try await net.link(residents: residents, to: ["CITY01", "TAX01"])
        try await net.startProvider("TAX01")
        let outcomes = try await net.ask(as: "CITY01", provider: "TAX01", residents: residents, count: 30, concurrency: 5)
        #expect(outcomes.filter { $0.answer != nil }.count == 30)
        let db = try SQLiteDatabase(path: net.dir.appendingPathComponent("state/linkcore.sqlite").path)
        // The daemon signs a checkpoint of the head within its interval.
        let deadline = ContinuousClock.now + .seconds(10)
        while try db.query("SELECT count(*) FROM audit_checkpoints WHERE position = 30").first?.int(0) != 1 {
            guard ContinuousClock.now < deadline else { throw TestFailure("no checkpoint signed at position 30") }
            try await Task.sleep(for: .milliseconds(50))
        }
        return (net, db)
    }

    /// What an attacker with the database file does: turns entry `from` into a refusal and
    /// re-seals it and every later entry up to `through`, so every stored hash agrees.
    static func reseal(_ db: SQLiteDatabase, from: Int, through: Int) throws {
        var previous = try #require(try db.query("SELECT hash FROM access_log WHERE position = ?", [.integer(Int64(from - 1))]).first?.blob(0))
        for position in from...through {
            let row = try #require(try db.query("""
                SELECT mediation_id, id_code, at_ms, requester, provider, bp_id, info_type, outcome FROM access_log WHERE position = ?
                """, [.integer(Int64(position))]).first)
            let record = AccessRecord(mediationID: row.string(0) ?? "", idCode: UInt64(bitPattern: row.int(1) ?? 0), atMs: row.int(2) ?? 0,
                                      requester: row.string(3) ?? "", provider: row.string(4) ?? "", bpID: row.string(5) ?? "",
                                      infoType: row.string(6) ?? "", outcome: position == from ? .refusedByWhitelist : .answered)
            let hash = AccessChain.hash(previous: previous, position: UInt64(position), record: record)
            try db.query("UPDATE access_log SET outcome = ?, hash = ? WHERE position = ?",
                         [.integer(Int64(record.outcome.rawValue)), .blob(hash), .integer(Int64(position))])
            previous = hash
        }
    }

    @Test func linkctlFindsEditedDeletedAndReorderedEntries() async throws {
        let (net, db) = try await network()
        defer { net.stop() }
        var (status, output) = try await net.daemon.linkctl(["audit", "verify"])
        #expect(status == 0 && output.contains("intact: 30 entries"), "\(output)")

        // Edited: someone makes entry 7 look like a refusal.
        try db.query("UPDATE access_log SET outcome = 2 WHERE position = 7")
        (status, output) = try await net.daemon.linkctl(["audit", "verify"])
        #expect(status == 1 && output.contains("TAMPERED at position 7: altered"), "\(output)")
        try db.query("UPDATE access_log SET outcome = 1 WHERE position = 7")
        #expect(try await net.daemon.linkctl(["audit", "verify"]).status == 0)

        // Reordered: entries 12 and 13 swap places.
        try db.query("UPDATE access_log SET position = -1 WHERE position = 12")
        try db.query("UPDATE access_log SET position = 12 WHERE position = 13")
        try db.query("UPDATE access_log SET position = 13 WHERE position = -1")
        (status, output) = try await net.daemon.linkctl(["audit", "verify"])
        #expect(status == 1 && output.contains("TAMPERED at position 12: reordered"), "\(output)")

        // Deleted: entry 20 disappears.
        try db.query("DELETE FROM access_log WHERE position = 20")
        try db.query("UPDATE access_log SET position = -1 WHERE position = 12")
        try db.query("UPDATE access_log SET position = 12 WHERE position = 13")
        try db.query("UPDATE access_log SET position = 13 WHERE position = -1")
        (status, output) = try await net.daemon.linkctl(["audit", "verify"])
        #expect(status == 1 && output.contains("TAMPERED at position 20: deleted"), "\(output)")
    }

    @Test func aRewrittenTailIsCaughtByTheDaemonsSignedCheckpoint() async throws {
        let (net, db) = try await network()
        defer { net.stop() }
        // The attacker turns entry 25 into a refusal and re-seals it and every later entry, so
        // every stored hash agrees; only the checkpoint the daemon signed at 30 disagrees.
        try Self.reseal(db, from: 25, through: 30)
        let (status, output) = try await net.daemon.linkctl(["audit", "verify"])
        #expect(status == 1 && output.contains("altered") && output.contains("signed checkpoint disagrees"), "\(output)")
        // Reported from the entry after the last checkpoint that still holds, at or before 25.
        let position = output.firstMatch(of: /TAMPERED at position (\d+)/).flatMap { Int($0.1) }
        #expect(position.map { (1...25).contains($0) } == true, "\(output)")
    }

    /// Issue 12, finding 1: the verifier accepted a checkpoint from any certificate of the
    /// network CA, with no time check. An organisation re-seals the tail and replaces the core's
    /// checkpoints with one signed by its own client key, one that expired weeks ago (signed
    /// "back then"). Before: `linkctl audit verify` said intact. Now: not signed by the core.
    @Test func aCheckpointSignedWithAnOrganisationsExpiredKeyDoesNotVerify() async throws {
        let (net, db) = try await network()
        defer { net.stop() }
        let start = Date().addingTimeInterval(-86_400 * 20)
        let expired = try net.daemon.pki.ca.issueClient(commonName: "Org CITY01", sanURIs: ["urn:linkcore:org:CITY01"],
                                                        notBefore: start, notAfter: start.addingTimeInterval(86_400))
        let keyPath = net.dir.appendingPathComponent("stolen-city.key").path
        try expired.privateKeyPEM.write(toFile: keyPath, atomically: true, encoding: .utf8)

        // One transaction, so the running daemon never sees a half-done forgery.
        try db.query("BEGIN IMMEDIATE")
        try Self.reseal(db, from: 25, through: 30)
        let head = try #require(try db.query("SELECT hash FROM access_log WHERE position = 30").first?.blob(0))
        let forged = try CheckpointSigner(privateKeyPath: keyPath, certificatePEM: Array(expired.certificatePEM.utf8))
            .sign(position: 30, hash: head, atMs: Int64(start.timeIntervalSince1970 * 1000) + 3_600_000)
        try db.query("DELETE FROM audit_checkpoints WHERE position >= 25")
        try db.query("INSERT INTO audit_checkpoints (position, hash, at_ms, signature, certificate) VALUES (30, ?, ?, ?, ?)",
                     [.blob(forged.hash), .integer(forged.atMs), .blob(forged.signature), .blob(forged.certificate)])
        try db.query("COMMIT")

        let (status, output) = try await net.daemon.linkctl(["audit", "verify"])
        #expect(status == 1 && output.contains("TAMPERED at position 30") && output.contains("not signed by the core"), "\(output)")
    }
}
