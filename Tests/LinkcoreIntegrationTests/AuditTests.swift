import Foundation
import LinkcoreAudit
import LinkcoreSQLite
import LinkcoreWire
import Testing
import LinkcoreTestSupport

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
        try await eventually("no checkpoint signed at position 30") {
            try db.query("SELECT count(*) FROM audit_checkpoints WHERE position = 30").first?.int(0) == 1
        }
        return (net, db)
    }

    /// What an attacker with the database file does: turns entry `from` into a refusal and
    /// re-seals it and every later entry up to `through`, so every stored hash agrees.
    static func reseal(_ db: SQLiteDatabase, from: Int, through: Int) throws {
        var previous = try #require(try db.query("SELECT hash FROM access_log WHERE position = ?", [.integer(Int64(from - 1))]).first?.blob(0))
        for position in from...through {
            let row = try #require(try db.query("""
                SELECT mediation_id, id_code, at_ms, requester, provider, bp_id, info_type, outcome, digest FROM access_log WHERE position = ?
                """, [.integer(Int64(position))]).first)
            // The v2 entry keeps its resident digest: the attacker re-seals in the log's own format.
            let record = AccessRecord(mediationID: row.string(0) ?? "", idCode: UInt64(bitPattern: row.int(1) ?? 0), atMs: row.int(2) ?? 0,
                                      requester: row.string(3) ?? "", provider: row.string(4) ?? "", bpID: row.string(5) ?? "",
                                      infoType: row.string(6) ?? "", outcome: position == from ? .refusedByWhitelist : .answered,
                                      residentDigest: row.blob(8))
            let hash = AccessChain.hash(previous: previous, position: UInt64(position), record: record)
            try db.query("UPDATE access_log SET outcome = ?, hash = ? WHERE position = ?",
                         [.integer(Int64(record.outcome.rawValue)), .blob(hash), .integer(Int64(position))])
            previous = hash
        }
    }

    /// Issue 16: the daemon on each store engine signs checkpoints of the log that real mediations
    /// wrote, `linkctl audit verify` finds it intact, and an entry edited behind the core's back
    /// (SQLite's file, or psql on PostgreSQL) is reported at its position.
    @Test(arguments: TestStoreEngine.allCases) func theLogVerifiesAndAnEditIsFoundOnEitherEngine(engine: TestStoreEngine) async throws {
        let net = try await MediationNetwork(requesters: ["CITY01"], providers: ["TAX01"], audit: "checkpoint_interval_ms = 100", engine: engine)
        defer { net.stop() }
        let residents = (10...12).map { "400000000\($0)" }
        try await net.link(residents: residents, to: ["CITY01", "TAX01"])
        try await net.startProvider("TAX01")
        let outcomes = try await net.ask(as: "CITY01", provider: "TAX01", residents: residents, count: 12, concurrency: 4)
        #expect(outcomes.filter { $0.answer != nil }.count == 12)
        try await eventually("no checkpoint at 12\n\(net.daemon.log)") {
            let (status, output) = try await net.daemon.linkctl(["audit", "verify"])
            // v2 (issue 15 item 3): every entry in the new format, and the Merkle root signed and recomputed.
            return status == 0 && output.contains("intact: 12 entries") && !output.contains(" 0 signed checkpoints")
                && !output.contains(" 0 signed tree heads") && output.contains("(v2 from position 1)")
        }
        let edit = "UPDATE access_log SET outcome = 2 WHERE position = 7"
        if let database = net.daemon.postgres {
            try await database.psql(edit)
        } else {
            try SQLiteDatabase(path: net.dir.appendingPathComponent("state/linkcore.sqlite").path).query(edit)
        }
        let (status, output) = try await net.daemon.linkctl(["audit", "verify"])
        #expect(status == 1 && output.contains("TAMPERED at position 7: altered"), "\(output)")
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
    /// Waits until the running daemon has recorded its signed head at position 30 in the witness.
    func waitForWitness(_ net: MediationNetwork, position: Int) async throws {
        let path = net.dir.appendingPathComponent("state/audit-witness").path
        try await eventually("no witness at \(position): \((try? String(contentsOfFile: path, encoding: .utf8)) ?? "none")") {
            (try? String(contentsOfFile: path, encoding: .utf8))?.hasPrefix("linkcore-audit-witness/v1 \(position) ") ?? false
        }
    }

    /// Waits until the daemon reports a refusal to sign on every channel an operator looks at.
    func waitForRefusal(_ net: MediationNetwork, containing reason: String) async throws {
        var problem = ""
        try await eventually("no refusal (\(reason)): \(problem)\n\(net.daemon.log)") {
            let status = try await net.daemon.status()
            problem = status.auditProblem
            return status.auditSignRefusals > 0 && status.auditProblem.contains(reason)
        }
        let (_, shown) = try await net.daemon.linkctl(["status"])
        #expect(shown.contains("NOT SIGNED") && shown.contains(reason), "\(shown)")
        #expect(net.daemon.log.contains("access log NOT signed"))
        #expect(net.daemon.notify.messages.contains { $0.contains("ACCESS LOG NOT SIGNED") })
    }

    /// Issue 12, finding 2: whoever holds the database file deletes the checkpoints after entry
    /// 20, turns entry 20 into a refusal and re-seals the chain. Before: the daemon built on the
    /// newest checkpoint left in the file, signed the forgery at its next interval, and
    /// `linkctl audit verify` called the log intact. Now: the signed head lives in a witness file
    /// outside the database; the daemon refuses to sign (log, STATUS, linkctl status), even as
    /// new entries are chained onto the forgery, and verify reports the rewrite.
    @Test func aRewriteOfTheDatabaseFileIsNeitherSignedNorBlessed() async throws {
        let (net, db) = try await network()
        defer { net.stop() }
        try await waitForWitness(net, position: 30)
        try db.query("BEGIN IMMEDIATE")
        try db.query("DELETE FROM audit_checkpoints WHERE position >= 20")
        try Self.reseal(db, from: 20, through: 30)
        try db.query("COMMIT")

        try await waitForRefusal(net, containing: "no longer extends the last signed head")
        // New mediations chain onto the forged head; the daemon still signs none of it.
        let residents = (10...14).map { "400000000\($0)" }
        _ = try await net.ask(as: "CITY01", provider: "TAX01", residents: residents, count: 5)
        let refusals = try await net.daemon.status().auditSignRefusals
        try await eventually("the daemon stopped checking") { try await net.daemon.status().auditSignRefusals > refusals + 1 }
        #expect(try db.query("SELECT count(*) FROM audit_checkpoints WHERE position >= 20").first?.int(0) == 0)
        let (status, output) = try await net.daemon.linkctl(["audit", "verify"])
        #expect(status == 1 && output.contains("altered") && output.contains("witness"), "\(output)")
    }

    /// The same attacker cuts the log back to entry 20 (entries and checkpoints after it).
    /// Before: nothing noticed it. Now: the daemon refuses to sign, verify reports the cut.
    @Test func aLogCutBehindTheCoresBackIsReported() async throws {
        let (net, db) = try await network()
        defer { net.stop() }
        try await waitForWitness(net, position: 30)
        try db.query("BEGIN IMMEDIATE")
        try db.query("DELETE FROM audit_checkpoints WHERE position > 20")
        try db.query("DELETE FROM access_log WHERE position > 20")
        try db.query("COMMIT")
        try await waitForRefusal(net, containing: "no longer reaches the last signed head")
        let (status, output) = try await net.daemon.linkctl(["audit", "verify"])
        #expect(status == 1 && output.contains("TAMPERED at position 21: deleted") && output.contains("witness"), "\(output)")
    }

    /// The pin in practice: after the core's key changes, checkpoints signed by the old key stop
    /// counting until the operator lists both keys in `[audit] signer_keys`. Until then the core
    /// refuses to sign, and says why.
    @Test func afterAKeyChangeTheOldKeyMustStayPinned() async throws {
        let (net, _) = try await network()
        defer { net.stop() }
        try await waitForWitness(net, position: 30)
        func fingerprint() throws -> String {
            let pem = Array(try Data(contentsOf: URL(fileURLWithPath: net.daemon.pki.path("server.pem"))))
            return CheckpointVerifier.formatFingerprint(try #require(CheckpointVerifier.keyFingerprint(certificatePEM: pem)))
        }
        let old = try fingerprint()
        try net.daemon.pki.issueServer(name: "server")
        let new = try fingerprint()
        guard case let .reloadResponse(renewed)? = try await net.daemon.admin(.reload(LCReloadRequest())), renewed.ok else {
            throw TestFailure("reload with the new certificate failed")
        }
        _ = try await net.ask(as: "CITY01", provider: "TAX01", residents: ["40000000010"], count: 5)
        try await waitForRefusal(net, containing: "signer_keys")

        let config = try String(contentsOfFile: net.daemon.configPath, encoding: .utf8)
            .replacingOccurrences(of: "checkpoint_interval_ms = 100", with: "checkpoint_interval_ms = 100\nsigner_keys = [\"\(old)\", \"\(new)\"]")
        try config.write(toFile: net.daemon.configPath, atomically: true, encoding: .utf8)
        guard case let .reloadResponse(pinned)? = try await net.daemon.admin(.reload(LCReloadRequest())), pinned.ok else {
            throw TestFailure("reload with both keys pinned failed")
        }
        var problem = ""
        try await eventually("not signed again: \(problem)") {
            let status = try await net.daemon.status()
            problem = status.auditProblem
            return status.auditSignedPosition == 35 && status.auditProblem.isEmpty
        }
        let (status, output) = try await net.daemon.linkctl(["audit", "verify"])
        #expect(status == 0 && output.contains("intact: 35 entries"), "\(output)")
    }

    /// A witness removed under the running core is not re-created from the database's word:
    /// the core refuses to sign, and verify cannot vouch for the log.
    @Test func aWitnessThatDisappearsStopsSigning() async throws {
        let (net, _) = try await network()
        defer { net.stop() }
        try await waitForWitness(net, position: 30)
        try FileManager.default.removeItem(atPath: net.dir.appendingPathComponent("state/audit-witness").path)
        try await waitForRefusal(net, containing: "disappeared")
        let (status, output) = try await net.daemon.linkctl(["audit", "verify"])
        #expect(status == 1 && output.contains("NOT VERIFIED") && output.contains("no witness"), "\(output)")
    }
}
