import Foundation
import LinkcoreSQLite

/// The portal's own durable state, in its own SQLite file (WAL + synchronous=FULL through
/// `LinkcoreSQLite`): certificate bindings, sessions, the folder. Every write returns only once
/// committed, so a page that says "done" says it about something on disk.
public final class PortalStore: Sendable {
    let queue: GroupCommitQueue

    static let migrations = [
        """
        -- Which resident a card's user certificate logs in: its serial -> the portal's own link
        -- code for the resident (LP, issued through the matcher by certificate at account opening).
        -- A renewed certificate is bound to the same LP with the next generation; the old row
        -- stays, pointing at its successor, so a login with a superseded card can be told apart.
        CREATE TABLE bindings (
            cert_serial TEXT PRIMARY KEY,      -- upper-case hex, as LinkcoreTLS/PeerIdentity writes it
            lp_link_code TEXT NOT NULL,
            generation INTEGER NOT NULL CHECK (generation >= 1),
            bound_at_ms INTEGER NOT NULL,
            superseded_by TEXT                 -- the renewed certificate's serial; NULL while current
        );
        CREATE INDEX bindings_lp ON bindings(lp_link_code, generation);
        -- Sessions by the SHA-256 (keyed, see Sessions.swift) of their id: a copy of this file
        -- gives no cookie that works. lp_link_code NULL: a visitor not logged in, who still
        -- needs a CSRF token for the forms shown to him.
        CREATE TABLE sessions (
            id_hash BLOB PRIMARY KEY,
            lp_link_code TEXT,
            csrf_token TEXT NOT NULL,
            created_at_ms INTEGER NOT NULL,
            last_seen_at_ms INTEGER NOT NULL
        );
        CREATE INDEX sessions_age ON sessions(created_at_ms);
        -- The folder (情報の一時保持): notices the core delivers at least once, deduplicated by id.
        CREATE TABLE notices (
            notice_id TEXT PRIMARY KEY,
            lp_link_code TEXT NOT NULL,
            sender_org TEXT NOT NULL,
            notice_type TEXT NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            sent_at_ms INTEGER NOT NULL,
            received_at_ms INTEGER NOT NULL,
            read_at_ms INTEGER,
            expires_at_ms INTEGER              -- retention per notice type; NULL: kept until deleted
        );
        CREATE INDEX notices_folder ON notices(lp_link_code, received_at_ms);
        """,
        // The folder shows who sent a notice by name, as the core registered it (issue 15 item 4).
        "ALTER TABLE notices ADD COLUMN sender_name TEXT NOT NULL DEFAULT '';",
        accountsMigration,
        // 4: the OIDC provider's codes and tokens (PortalStore+OIDC.swift).
        oidcMigration,
    ]

    public init(path: String) throws {
        let db = try SQLiteDatabase(path: path)
        try db.migrate(Self.migrations)
        queue = GroupCommitQueue(database: db, label: "linkcore-portal.store")
    }

    // MARK: Certificate bindings

    public struct Binding: Sendable, Equatable {
        public var certSerial: String
        public var lpLinkCode: String
        public var generation: Int
        public var boundAtMs: Int64
        public var supersededBy: String?
    }

    /// Binds a certificate serial to LP: generation 1 for a new LP, else the next after the
    /// LP's newest binding, which is marked superseded. Binding the same serial again changes nothing.
    @discardableResult
    public func bind(certSerial: String, lpLinkCode: String, nowMs: Int64) async throws -> Binding {
        let serial = certSerial.uppercased()
        return try await queue.write { db in try Self.bind(db, serial: serial, lpLinkCode: lpLinkCode, nowMs: nowMs) }
    }

    /// `bind` inside a write of its own or of a caller's (account opening, renewal).
    static func bind(_ db: SQLiteDatabase, serial: String, lpLinkCode: String, nowMs: Int64) throws -> Binding {
        if let row = try db.query("SELECT lp_link_code, generation, bound_at_ms, superseded_by FROM bindings WHERE cert_serial = ?",
                                  [.text(serial)]).first {
            return Binding(certSerial: serial, lpLinkCode: row.string(0) ?? "", generation: Int(row.int(1) ?? 0),
                           boundAtMs: row.int(2) ?? 0, supersededBy: row.string(3))
        }
        let newest = try db.query(
            "SELECT cert_serial, generation FROM bindings WHERE lp_link_code = ? ORDER BY generation DESC LIMIT 1",
            [.text(lpLinkCode)]).first
        let generation = Int(newest?.int(1) ?? 0) + 1
        if let previous = newest?.string(0) {
            _ = try db.query("UPDATE bindings SET superseded_by = ? WHERE cert_serial = ?", [.text(serial), .text(previous)])
        }
        _ = try db.query("INSERT INTO bindings VALUES (?, ?, ?, ?, NULL)",
                         [.text(serial), .text(lpLinkCode), .integer(Int64(generation)), .integer(nowMs)])
        return Binding(certSerial: serial, lpLinkCode: lpLinkCode, generation: generation, boundAtMs: nowMs, supersededBy: nil)
    }

    public func binding(certSerial: String) async throws -> Binding? {
        let serial = certSerial.uppercased()
        return try await queue.read { db in
            try db.query("SELECT lp_link_code, generation, bound_at_ms, superseded_by FROM bindings WHERE cert_serial = ?",
                         [.text(serial)]).first.map {
                Binding(certSerial: serial, lpLinkCode: $0.string(0) ?? "", generation: Int($0.int(1) ?? 0),
                        boundAtMs: $0.int(2) ?? 0, supersededBy: $0.string(3))
            }
        }
    }

    // MARK: Sessions (rows; the rules are in Sessions.swift)

    struct SessionRow: Sendable {
        var lpLinkCode: String?
        var csrfToken: String
        var createdAtMs: Int64
        var lastSeenAtMs: Int64
    }

    func insertSession(idHash: [UInt8], row: SessionRow, expiredBeforeMs: Int64, idleBeforeMs: Int64) async throws {
        try await queue.write { db in
            // Sweeping here keeps the table at the sessions alive, with no timer of its own.
            _ = try db.query("DELETE FROM sessions WHERE created_at_ms < ? OR last_seen_at_ms < ?",
                             [.integer(expiredBeforeMs), .integer(idleBeforeMs)])
            _ = try db.query("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)", [
                .blob(idHash), row.lpLinkCode.map { .text($0) } ?? .null, .text(row.csrfToken),
                .integer(row.createdAtMs), .integer(row.lastSeenAtMs),
            ])
        }
    }

    func session(idHash: [UInt8]) async throws -> SessionRow? {
        try await queue.read { db in
            try db.query("SELECT lp_link_code, csrf_token, created_at_ms, last_seen_at_ms FROM sessions WHERE id_hash = ?",
                         [.blob(idHash)]).first.map {
                SessionRow(lpLinkCode: $0.string(0), csrfToken: $0.string(1) ?? "", createdAtMs: $0.int(2) ?? 0, lastSeenAtMs: $0.int(3) ?? 0)
            }
        }
    }

    func touchSession(idHash: [UInt8], nowMs: Int64) async throws {
        try await queue.write { db in
            _ = try db.query("UPDATE sessions SET last_seen_at_ms = ? WHERE id_hash = ?", [.integer(nowMs), .blob(idHash)])
        }
    }

    func deleteSession(idHash: [UInt8]) async throws {
        try await queue.write { db in _ = try db.query("DELETE FROM sessions WHERE id_hash = ?", [.blob(idHash)]) }
    }

    public func sessionCount() async throws -> Int {
        try await queue.read { db in Int(try db.query("SELECT count(*) FROM sessions").first?.int(0) ?? 0) }
    }

    // MARK: The folder

    public struct Notice: Sendable, Equatable {
        public var noticeID: String
        public var lpLinkCode: String
        public var senderOrg: String
        public var noticeType: String
        public var title: String
        public var body: String
        public var sentAtMs: Int64
        public var receivedAtMs: Int64
        public var readAtMs: Int64?
        public var expiresAtMs: Int64?
        public var senderName: String
        public init(noticeID: String, lpLinkCode: String, senderOrg: String, noticeType: String, title: String, body: String,
                    sentAtMs: Int64, receivedAtMs: Int64, readAtMs: Int64? = nil, expiresAtMs: Int64? = nil, senderName: String = "") {
            self.noticeID = noticeID; self.lpLinkCode = lpLinkCode; self.senderOrg = senderOrg; self.noticeType = noticeType
            self.title = title; self.body = body; self.sentAtMs = sentAtMs; self.receivedAtMs = receivedAtMs
            self.readAtMs = readAtMs; self.expiresAtMs = expiresAtMs; self.senderName = senderName
        }
    }

    /// Stores a delivered notice (before the core is acknowledged); a repeat of a stored id
    /// changes nothing. Returns whether it was new.
    @discardableResult
    public func storeNotice(_ notice: Notice) async throws -> Bool {
        try await queue.write { db in
            _ = try db.query("""
                INSERT OR IGNORE INTO notices (notice_id, lp_link_code, sender_org, notice_type, title, body, sent_at_ms,
                                               received_at_ms, read_at_ms, expires_at_ms, sender_name)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [
                .text(notice.noticeID), .text(notice.lpLinkCode), .text(notice.senderOrg), .text(notice.noticeType),
                .text(notice.title), .text(notice.body), .integer(notice.sentAtMs), .integer(notice.receivedAtMs),
                notice.readAtMs.map { .integer($0) } ?? .null, notice.expiresAtMs.map { .integer($0) } ?? .null,
                .text(notice.senderName),
            ])
            return db.changes == 1
        }
    }

    /// A resident's folder, newest first, without notices past their retention.
    public func folder(lpLinkCode: String, nowMs: Int64) async throws -> [Notice] {
        try await queue.read { db in
            try db.query(
                """
                SELECT \(Self.noticeColumns)
                FROM notices WHERE lp_link_code = ? AND (expires_at_ms IS NULL OR expires_at_ms > ?)
                ORDER BY received_at_ms DESC, notice_id
                """, [.text(lpLinkCode), .integer(nowMs)]).map { Self.notice($0, lpLinkCode) }
        }
    }

    static let noticeColumns =
        "notice_id, sender_org, notice_type, title, body, sent_at_ms, received_at_ms, read_at_ms, expires_at_ms, sender_name"

    static func notice(_ row: Row, _ lpLinkCode: String) -> Notice {
        Notice(noticeID: row.string(0) ?? "", lpLinkCode: lpLinkCode, senderOrg: row.string(1) ?? "", noticeType: row.string(2) ?? "",
               title: row.string(3) ?? "", body: row.string(4) ?? "", sentAtMs: row.int(5) ?? 0, receivedAtMs: row.int(6) ?? 0,
               readAtMs: row.int(7), expiresAtMs: row.int(8), senderName: row.string(9) ?? "")
    }

    /// One notice of this resident's folder (nil for another resident's id, an unknown id or an
    /// expired notice: all look the same), marked read first (durably) when `markRead`.
    public func openNotice(id: String, lpLinkCode: String, nowMs: Int64, markRead: Bool) async throws -> Notice? {
        try await queue.write { db in
            if markRead {
                _ = try db.query("UPDATE notices SET read_at_ms = ? WHERE notice_id = ? AND lp_link_code = ? AND read_at_ms IS NULL",
                                 [.integer(nowMs), .text(id), .text(lpLinkCode)])
            }
            return try db.query("""
                SELECT \(Self.noticeColumns) FROM notices
                WHERE notice_id = ? AND lp_link_code = ? AND (expires_at_ms IS NULL OR expires_at_ms > ?)
                """, [.text(id), .text(lpLinkCode), .integer(nowMs)]).first.map { Self.notice($0, lpLinkCode) }
        }
    }

    /// Deletes one notice of this resident's folder; false when there was none by that id for him.
    public func deleteNotice(id: String, lpLinkCode: String) async throws -> Bool {
        try await queue.write { db in
            _ = try db.query("DELETE FROM notices WHERE notice_id = ? AND lp_link_code = ?", [.text(id), .text(lpLinkCode)])
            return db.changes == 1
        }
    }

    /// Removes every notice past its retention from the file; returns how many.
    @discardableResult
    public func purgeExpiredNotices(nowMs: Int64) async throws -> Int {
        try await queue.write { db in
            _ = try db.query("DELETE FROM notices WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= ?", [.integer(nowMs)])
            return db.changes
        }
    }
}
