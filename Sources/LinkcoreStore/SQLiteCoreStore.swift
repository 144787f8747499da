import Dispatch
import Foundation
import LinkcoreSQLite

/// The embedded default engine: one SQLite file in WAL mode with synchronous=FULL, so every
/// transaction is fsynced before its method returns. Two connections, each owned by its own
/// serial queue: one writes, one reads (below). Writes are group-committed (see
/// `GroupCommitQueue`): concurrent writers share an fsync.
public final class SQLiteCoreStore: CoreStore, Sendable {
    let connection: GroupCommitQueue
    /// A second connection for reads: in WAL mode they see the last commit and need not queue
    /// behind a group's fsync (a mediation reads twice before it writes its log entry). A write
    /// returns after its commit, so a read that follows it sees it.
    let reader: GroupCommitQueue
    public let path: String

    public init(path: String) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        // The ID table's indexes (resident hash, live links) take random inserts: with a million
        // residents they outgrow SQLite's 2 MB default cache and every issuance goes to the disk.
        let db = try SQLiteDatabase(path: path, cacheMB: 64)
        try db.migrate(CoreSchema.migrations)
        connection = GroupCommitQueue(database: db, label: "linkcore.store.sqlite", reachabilityName: "write")
        reader = GroupCommitQueue(database: try SQLiteDatabase(path: path, readOnly: true, cacheMB: 32), label: "linkcore.store.sqlite.read")
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabase) throws -> T) async throws -> T {
        try refuseAfterIOFailure()
        return try await reader.read(body)
    }

    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabase) throws -> T) async throws -> T {
        do {
            return try await connection.write(body)
        } catch let fault as GroupCommitQueue.Fault {
            // UNAVAILABLE (retryable) for the caller, with the machine's reason.
            throw StoreError.refusingWrites(fault.description)
        }
    }

    /// After an I/O error the database is not trusted for reads either: what the page cache
    /// holds may not be what the disk holds (GroupCommitQueue.Fault). A full disk reads on.
    func refuseAfterIOFailure() throws {
        if let fault = connection.fault, fault.isPermanent { throw StoreError.refusingWrites(fault.description) }
    }

    /// A full disk or an I/O error on the database: the node reports NOT READY (STATUS line,
    /// `linkcore_store_reachable{connection="write"}` 0) and refuses writes with UNAVAILABLE.
    public var unavailability: String? { connection.fault?.description }

    // MARK: organisations

    public func addOrganisation(_ org: Organisation) async throws {
        try await write { db in
            do {
                try db.query("""
                    INSERT INTO organisations (code, name, sector, role, suspended, key_index, created_at, licensed_verifier)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.text(org.code), .text(org.name), .integer(Int64(org.sector.rawValue)), .integer(Int64(org.role.rawValue)),
                          .integer(org.suspended ? 1 : 0), .integer(Int64(org.keyIndex)), .integer(org.createdAtMs),
                          .integer(org.licensedVerifier ? 1 : 0)])
            } catch let error as SQLiteError where error.isConstraintViolation {
                throw StoreError.duplicate("organisation \(org.code)")
            }
        }
    }

    static let orgColumns = "code, name, sector, role, suspended, key_index, created_at, licensed_verifier"

    static func organisation(_ row: Row) -> Organisation? {
        guard let code = row.string(0), let name = row.string(1),
              let sector = row.int(2).flatMap({ OrgSector(rawValue: Int($0)) }),
              let role = row.int(3).flatMap({ OrgRole(rawValue: Int($0)) }) else { return nil }
        return Organisation(code: code, name: name, sector: sector, role: role, suspended: row.int(4) == 1,
                            keyIndex: UInt16(truncatingIfNeeded: row.int(5) ?? 1), createdAtMs: row.int(6) ?? 0,
                            licensedVerifier: row.int(7) == 1)
    }

    public func organisation(_ code: String) async throws -> Organisation? {
        try await read { db in
            try db.query("SELECT \(Self.orgColumns) FROM organisations WHERE code = ?", [.text(code)]).first.flatMap(Self.organisation)
        }
    }

    public func organisations() async throws -> [Organisation] {
        try await read { db in
            try db.query("SELECT \(Self.orgColumns) FROM organisations ORDER BY code").compactMap(Self.organisation)
        }
    }

    public func setSuspended(_ code: String, _ suspended: Bool) async throws -> Organisation {
        try await write { db in
            try db.query("UPDATE organisations SET suspended = ? WHERE code = ?", [.integer(suspended ? 1 : 0), .text(code)])
            guard db.changes == 1,
                  let org = try db.query("SELECT \(Self.orgColumns) FROM organisations WHERE code = ?", [.text(code)]).first.flatMap(Self.organisation)
            else { throw StoreError.notFound("organisation \(code)") }
            return org
        }
    }

    public func setLicensedVerifier(_ code: String, _ licensed: Bool) async throws -> Organisation {
        try await write { db in
            try db.query("UPDATE organisations SET licensed_verifier = ? WHERE code = ?", [.integer(licensed ? 1 : 0), .text(code)])
            guard db.changes == 1,
                  let org = try db.query("SELECT \(Self.orgColumns) FROM organisations WHERE code = ?", [.text(code)]).first.flatMap(Self.organisation)
            else { throw StoreError.notFound("organisation \(code)") }
            return org
        }
    }

    public func rotateKey(_ code: String) async throws -> UInt16 {
        try await write { db in
            try db.query("UPDATE organisations SET key_index = key_index + 1 WHERE code = ? AND key_index < 1023", [.text(code)])
            guard db.changes == 1,
                  let index = try db.query("SELECT key_index FROM organisations WHERE code = ?", [.text(code)]).first?.int(0)
            else { throw StoreError.notFound("organisation \(code) (or its key indexes are exhausted)") }
            return UInt16(index)
        }
    }

    // MARK: links

    static let linkColumns = "id_code, org_code, key_index, linked_at, unlinked_at"

    static func link(_ row: Row, from offset: Int = 0) -> Link? {
        guard let id = row.int(offset), let org = row.string(offset + 1), let index = row.int(offset + 2),
              let linkedAt = row.int(offset + 3) else { return nil }
        return Link(idCode: UInt64(bitPattern: id), orgCode: org, keyIndex: UInt16(truncatingIfNeeded: index),
                    linkedAtMs: linkedAt, unlinkedAtMs: row.int(offset + 4))
    }

    static func issuance(_ row: Row) -> Issuance? {
        guard let number = row.string(0), let link = link(row, from: 1), let expires = row.int(6) else { return nil }
        return Issuance(matchingNumber: number, link: link, expiresAtMs: expires, acknowledgedAtMs: row.int(7))
    }

    static let issuanceQuery = """
        SELECT i.matching_number, l.id_code, l.org_code, l.key_index, l.linked_at, l.unlinked_at, i.expires_at, i.acked_at
        FROM issuances i JOIN links l ON l.rowid = i.link_rowid
        """

    public func issueLink(residentHash: [UInt8], orgCode: String, matchingNumber: String, expiresAtMs: Int64,
                          nowMs: Int64, newIDCode: @escaping @Sendable () -> UInt64, charge: FeeCharge?) async throws -> (issuance: Issuance, created: Bool) {
        try await write { db in
            // A matching number is used once: a replay is idempotent only for the same org and resident.
            if let row = try db.query(Self.issuanceQuery + " WHERE i.matching_number = ?", [.text(matchingNumber)]).first,
               let existing = Self.issuance(row) {
                let sameResident = try db.query("SELECT 1 FROM residents WHERE id_code = ? AND resident_hash = ?",
                                                [.integer(Int64(bitPattern: existing.link.idCode)), .blob(residentHash)]).isEmpty == false
                guard existing.link.orgCode == orgCode, sameResident, existing.link.isLive else {
                    throw StoreError.matchingNumberRefused
                }
                return (existing, false)
            }
            guard expiresAtMs > nowMs else { throw StoreError.matchingNumberRefused }
            guard let org = try db.query("SELECT key_index FROM organisations WHERE code = ?", [.text(orgCode)]).first?.int(0) else {
                throw StoreError.notFound("organisation \(orgCode)")
            }
            let idCode: Int64
            if let found = try db.query("SELECT id_code FROM residents WHERE resident_hash = ?", [.blob(residentHash)]).first?.int(0) {
                idCode = found
            } else {
                idCode = try Self.insertResident(db, hash: residentHash, nowMs: nowMs, newIDCode: newIDCode)
            }
            var created = false
            var linkRow = try db.query("SELECT rowid FROM links WHERE id_code = ? AND org_code = ? AND unlinked_at IS NULL",
                                       [.integer(idCode), .text(orgCode)]).first?.int(0)
            if linkRow == nil {
                try db.query("INSERT INTO links (id_code, org_code, key_index, linked_at) VALUES (?, ?, ?, ?)",
                             [.integer(idCode), .text(orgCode), .integer(org), .integer(nowMs)])
                linkRow = db.lastInsertRowID
                created = true
                if let charge { try Self.insert(charge, in: db) }
            }
            try db.query("INSERT INTO issuances (matching_number, link_rowid, expires_at, created_at) VALUES (?, ?, ?, ?)",
                         [.text(matchingNumber), .integer(linkRow ?? 0), .integer(expiresAtMs), .integer(nowMs)])
            guard let row = try db.query(Self.issuanceQuery + " WHERE i.matching_number = ?", [.text(matchingNumber)]).first,
                  let issuance = Self.issuance(row) else { throw StoreError.unavailable("issuance vanished") }
            return (issuance, created)
        }
    }

    /// A new resident row under a fresh random ID code (retrying the astronomically rare clash).
    private static func insertResident(_ db: SQLiteDatabase, hash: [UInt8], nowMs: Int64, newIDCode: () -> UInt64) throws -> Int64 {
        for _ in 0..<8 {
            let candidate = Int64(bitPattern: newIDCode())
            do {
                try db.query("INSERT INTO residents (id_code, resident_hash, created_at) VALUES (?, ?, ?)",
                             [.integer(candidate), .blob(hash), .integer(nowMs)])
                return candidate
            } catch let error as SQLiteError where error.isConstraintViolation {
                continue
            }
        }
        throw StoreError.unavailable("could not allocate an ID code")
    }

    public func issuance(matchingNumber: String) async throws -> Issuance? {
        try await read { db in
            try db.query(Self.issuanceQuery + " WHERE i.matching_number = ?", [.text(matchingNumber)]).first.flatMap(Self.issuance)
        }
    }

    public func acknowledgeIssuance(matchingNumber: String, orgCode: String, nowMs: Int64) async throws {
        try await write { db in
            try db.query("""
                UPDATE issuances SET acked_at = ? WHERE matching_number = ? AND acked_at IS NULL
                AND EXISTS (SELECT 1 FROM links l WHERE l.rowid = issuances.link_rowid AND l.org_code = ?)
                """, [.integer(nowMs), .text(matchingNumber), .text(orgCode)])
        }
    }

    public func unacknowledgedIssuances(orgCode: String, limit: Int) async throws -> [Issuance] {
        try await read { db in
            try db.query(Self.issuanceQuery + " WHERE l.org_code = ? AND i.acked_at IS NULL AND l.unlinked_at IS NULL ORDER BY i.created_at LIMIT ?",
                         [.text(orgCode), .integer(Int64(limit))]).compactMap(Self.issuance)
        }
    }

    public func liveLink(idCode: UInt64, orgCode: String) async throws -> Link? {
        // On the caller's thread: one indexed row, twice per mediation (GroupCommitQueue.readNow).
        try refuseAfterIOFailure()
        return try reader.readNow { db in
            try db.query("SELECT \(Self.linkColumns) FROM links WHERE id_code = ? AND org_code = ? AND unlinked_at IS NULL",
                         [.integer(Int64(bitPattern: idCode)), .text(orgCode)]).first.flatMap { Self.link($0) }
        }
    }

    public func unlink(idCode: UInt64, orgCode: String, nowMs: Int64) async throws -> Link? {
        try await write { db in
            try db.query("UPDATE links SET unlinked_at = ? WHERE id_code = ? AND org_code = ? AND unlinked_at IS NULL",
                         [.integer(nowMs), .integer(Int64(bitPattern: idCode)), .text(orgCode)])
            guard db.changes == 1 else { return nil }
            return try db.query("SELECT \(Self.linkColumns) FROM links WHERE id_code = ? AND org_code = ? AND unlinked_at = ?",
                                [.integer(Int64(bitPattern: idCode)), .text(orgCode), .integer(nowMs)]).first.flatMap { Self.link($0) }
        }
    }
}
