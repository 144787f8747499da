import Foundation
import LinkcoreAudit
import LinkcorePKI
import LinkcoreSQLite
import LinkcoreStore
import LinkcoreTestSupport
import Testing

/// A real store (an SQLite file, or a PostgreSQL database on the test server), real checkpoint signatures under a dev PKI, and tampering done the way an
/// attacker with the file would: through SQLite, behind the store's back.
@Suite struct AccessLogTamperTests {
    let directory = NSTemporaryDirectory() + "audit-\(UUID().uuidString)"
    var pki: DevPKIDirectory { DevPKIDirectory(path: directory + "/pki") }

    func record(_ i: Int, resident: UInt64) -> AccessRecord {
        AccessRecord(mediationID: "m\(i)", idCode: resident, atMs: 1_700_000_000_000 + Int64(i), requester: "CITY01",
                     provider: "PENSION01", bpID: "BP-\(i % 7)", infoType: "pension.amount",
                     outcome: i % 5 == 0 ? .refusedByWhitelist : .answered)
    }

    /// A store with `count` entries and a signed checkpoint after every `every` of them.
    /// On either engine: `t.store` is the store; tampering goes behind its back (`tamper`).
    func makeLog(_ engine: TestStoreEngine, count: Int, checkpointEvery every: Int) async throws -> TestStore {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try pki.initialise()
        let t = try await TestStore.make(engine)
        let store = t.store
        let signer = CheckpointSigner(privateKeyPath: pki.serverKeyPath,
                                      certificatePEM: Array(try Data(contentsOf: URL(fileURLWithPath: pki.serverCertificatePath))))
        for i in 1...count {
            let chained = try await store.appendAccess(record(i, resident: UInt64(i % 3)))
            #expect(chained.position == UInt64(i))
            if i % every == 0 {
                try await store.addCheckpoint(try signer.sign(position: chained.position, hash: chained.hash, atMs: Self.nowMs))
            }
        }
        return t
    }

    static var nowMs: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// The verifier pinned to the dev PKI's server key, as the daemon pins its own.
    func verifier(crl: String? = nil) throws -> CheckpointVerifier {
        let pem = Array(try Data(contentsOf: URL(fileURLWithPath: pki.serverCertificatePath)))
        return CheckpointVerifier(caBundlePath: pki.caCertificatePath, crlPath: crl,
                                  signerKeys: [try #require(CheckpointVerifier.keyFingerprint(certificatePEM: pem))])
    }

    func verify(_ store: any CoreStore, pageSize: Int = 7) async throws -> ChainVerifier.Report {
        try await ChainVerifier.verify(checkpoints: try await store.checkpoints(),
                                       verifier: try verifier(),
                                       page: { try await store.accessChain(afterPosition: $0, limit: pageSize) })
    }

    /// As an attacker with the database would: SQLite's file directly, or psql on PostgreSQL.
    func tamper(_ t: TestStore, _ sql: String) async throws {
        if let database = t.database {
            try await database.psql(sql)
        } else {
            let db = try SQLiteDatabase(path: try #require(t.sqlitePath))
            try db.query(sql, [])
        }
    }

    @Test(arguments: TestStoreEngine.allCases) func anIntactLogVerifiesWithItsCheckpoints(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let t = try await makeLog(engine, count: 40, checkpointEvery: 10)
        let store = t.store
        let report = try await verify(store)
        #expect(report.ok)
        #expect(report.entriesChecked == 40)
        #expect(report.checkpointsChecked == 4)
        // The resident's view reads the same entries by ID code.
        let mine = try await store.accessEntries(idCode: 1, fromMs: 0, toMs: .max, afterPosition: 0, limit: 100)
        #expect(mine.map(\.position) == stride(from: 1, through: 40, by: 3).map { UInt64($0) })
    }

    @Test(arguments: TestStoreEngine.allCases) func anAlteredEntryIsReportedAtItsPosition(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let t = try await makeLog(engine, count: 30, checkpointEvery: 10)
        let store = t.store
        try await tamper(t, "UPDATE access_log SET requester = 'BANK01' WHERE position = 17")
        let report = try await verify(store)
        #expect(report.problem == .altered)
        #expect(report.firstBadPosition == 17)
        #expect(report.entriesChecked == 16)
    }

    @Test(arguments: TestStoreEngine.allCases) func aDeletedEntryIsReportedAtItsPosition(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let t = try await makeLog(engine, count: 30, checkpointEvery: 10)
        let store = t.store
        try await tamper(t, "DELETE FROM access_log WHERE position = 12")
        let report = try await verify(store)
        #expect(report.problem == .deleted)
        #expect(report.firstBadPosition == 12)
    }

    @Test(arguments: TestStoreEngine.allCases) func aTruncatedTailIsCaughtByTheCheckpointBeyondIt(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let t = try await makeLog(engine, count: 30, checkpointEvery: 10)
        let store = t.store
        try await tamper(t, "DELETE FROM access_log WHERE position > 25")
        let report = try await verify(store)
        #expect(report.problem == .deleted)
        #expect(report.firstBadPosition == 26)
    }

    @Test(arguments: TestStoreEngine.allCases) func swappedEntriesAreReportedAsReordered(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let t = try await makeLog(engine, count: 30, checkpointEvery: 10)
        let store = t.store
        // Swap whole rows 21 and 22, hashes included, keeping the positions in place (21 ends
        // a verifier page and 22 starts the next one).
        try await tamper(t, "UPDATE access_log SET position = -1 WHERE position = 21")
        try await tamper(t, "UPDATE access_log SET position = 21 WHERE position = 22")
        try await tamper(t, "UPDATE access_log SET position = 22 WHERE position = -1")
        let report = try await verify(store)
        #expect(report.problem == .reordered)
        #expect(report.firstBadPosition == 21)
    }

    @Test func aRewrittenChainIsCaughtBySignedCheckpoints() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let t = try await makeLog(.sqlite, count: 30, checkpointEvery: 10)
        let store = t.store
        // The attacker alters entry 14 and re-seals every later entry: each stored hash agrees.
        let db = try SQLiteDatabase(path: try #require(t.sqlitePath))
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

    @Test(arguments: TestStoreEngine.allCases) func forgedOrForeignCheckpointsAreRefused(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let t = try await makeLog(engine, count: 20, checkpointEvery: 10)
        let store = t.store
        try await tamper(t, "UPDATE audit_checkpoints SET at_ms = at_ms + 1 WHERE position = 20")
        #expect(try await verify(store).problem == .badCheckpointSignature)

        // A checkpoint signed by a key of another CA does not count either.
        let other = DevPKIDirectory(path: directory + "/other")
        try other.initialise()
        let head = try #require(try await store.accessHead())
        let foreign = try CheckpointSigner(privateKeyPath: other.serverKeyPath,
                                           certificatePEM: Array(Data(contentsOf: URL(fileURLWithPath: other.serverCertificatePath))))
            .sign(position: head.position, hash: head.hash, atMs: Self.nowMs)
        try await tamper(t, "DELETE FROM audit_checkpoints")
        try await store.addCheckpoint(foreign)
        let report = try await verify(store)
        #expect(report.problem == .untrustedCheckpointSigner)
        #expect(report.firstBadPosition == 20)
    }

    /// Issue 12, finding 1: any certificate of the network CA used to verify. Now only the
    /// core's pinned serverAuth key, within its certificate's life and not revoked.
    @Test func onlyTheCoresKeyInItsCertificatesLifeSignsCheckpoints() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try await makeLog(.sqlite, count: 5, checkpointEvery: 5)
        let ca = try pki.loadCA()
        let hash = [UInt8](repeating: 7, count: 32)
        func checkpoint(_ issued: PEMCertificate, keyPath: String, atMs: Int64) throws -> AuditCheckpoint {
            try issued.privateKeyPEM.write(toFile: keyPath, atomically: true, encoding: .utf8)
            return try CheckpointSigner(privateKeyPath: keyPath, certificatePEM: Array(issued.certificatePEM.utf8))
                .sign(position: 5, hash: hash, atMs: atMs)
        }
        func pinned(_ issued: PEMCertificate) throws -> CheckpointVerifier {
            CheckpointVerifier(caBundlePath: pki.caCertificatePath,
                               signerKeys: [try #require(CheckpointVerifier.keyFingerprint(certificatePEM: Array(issued.certificatePEM.utf8)))])
        }
        func isRefused(_ verdict: CheckpointVerifier.Verdict, because reason: String) -> Bool {
            if case let .untrustedSigner(why) = verdict { return why.contains(reason) }
            return false
        }

        // An organisation's client key, valid today: not the core's key; and even when an
        // operator pinned it by mistake, a clientAuth certificate signs nothing.
        let city = try ca.issueOrganisation(code: "CITY01", name: "City", validDays: 30)
        let byCity = try checkpoint(city, keyPath: directory + "/city.key", atMs: Self.nowMs)
        #expect(isRefused(try verifier().verify(byCity), because: "not the core's"))
        #expect(isRefused(try pinned(city).verify(byCity), because: "serverAuth"))

        // The same with an organisation certificate that expired long ago, signed "back then".
        let start = Date().addingTimeInterval(-86_400 * 20)
        let expired = try ca.issueClient(commonName: "City", sanURIs: ["urn:linkcore:org:CITY01"],
                                         notBefore: start, notAfter: start.addingTimeInterval(86_400))
        let byExpired = try checkpoint(expired, keyPath: directory + "/expired.key", atMs: Int64(start.timeIntervalSince1970 * 1000) + 3_600_000)
        #expect(isRefused(try verifier().verify(byExpired), because: "not the core's"))
        #expect(isRefused(try pinned(expired).verify(byExpired), because: "serverAuth"))

        // Another server certificate of the same CA: a different key, so not the core.
        let other = try ca.issueServer(commonName: "other", dnsNames: ["other"], ipAddresses: [], validDays: 30)
        #expect(isRefused(try verifier().verify(try checkpoint(other, keyPath: directory + "/other.key", atMs: Self.nowMs)), because: "not the core's"))

        // The core's own key, outside its certificate's life: refused (no NO_CHECK_TIME).
        let server = try CheckpointSigner(privateKeyPath: pki.serverKeyPath,
                                          certificatePEM: Array(try Data(contentsOf: URL(fileURLWithPath: pki.serverCertificatePath))))
        let late = try server.sign(position: 5, hash: hash, atMs: Self.nowMs + 86_400_000 * 3_650)
        #expect(isRefused(try verifier().verify(late), because: "expired"))
        let early = try server.sign(position: 5, hash: hash, atMs: Self.nowMs - 86_400_000)
        #expect(isRefused(try verifier().verify(early), because: "not yet valid"))
        let good = try server.sign(position: 5, hash: hash, atMs: Self.nowMs)
        #expect(try verifier().verify(good) == .valid)

        // Revoked by the CRL: refused, for checkpoints of any time.
        let serial = try CertificateInfo.parse(pem: String(decoding: Data(contentsOf: URL(fileURLWithPath: pki.serverCertificatePath)), as: UTF8.self)).serialHex
        let crl = directory + "/revoked.crl"
        try ca.makeCRL(revokedSerials: [serial], nextUpdateDays: 7).write(toFile: crl, atomically: true, encoding: .utf8)
        #expect(isRefused(try verifier(crl: crl).verify(good), because: "revoked"))
        #expect(try verifier(crl: pki.crlPath).verify(good) == .valid)
    }
}
