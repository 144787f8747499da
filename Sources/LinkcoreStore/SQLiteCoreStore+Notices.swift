import LinkcoreAudit
import LinkcoreSQLite

extension SQLiteCoreStore: NoticeStore {
    static let noticeColumns = "notice_id, sender, idem_key, fingerprint, portal, id_code, notice_type, title, body, sent_at, delivered_at"

    static func storedNotice(_ row: Row, from o: Int = 0) -> StoredNotice? {
        guard let id = row.string(o), let sender = row.string(o + 1), let key = row.string(o + 2), let fingerprint = row.blob(o + 3),
              let portal = row.string(o + 4), let idCode = row.int(o + 5), let type = row.string(o + 6), let title = row.string(o + 7),
              let body = row.string(o + 8), let sent = row.int(o + 9) else { return nil }
        return StoredNotice(noticeID: id, sender: sender, idempotencyKey: key, fingerprint: fingerprint, portal: portal,
                            idCode: UInt64(bitPattern: idCode), noticeType: type, title: title, body: body, sentAtMs: sent,
                            deliveredAtMs: row.int(o + 10))
    }

    static func notice(_ db: SQLiteDatabase, sender: String, key: String) throws -> StoredNotice? {
        try db.query("SELECT \(noticeColumns) FROM notices WHERE sender = ? AND idem_key = ?", [.text(sender), .text(key)])
            .first.flatMap { storedNotice($0) }
    }

    public func notice(sender: String, key: String) async throws -> StoredNotice? {
        try await read { db in try Self.notice(db, sender: sender, key: key) }
    }

    public func queueNotice(_ notice: StoredNotice, access: AccessRecord) async throws -> (notice: StoredNotice, written: Bool) {
        try await write { db in
            // Checked inside the write: two copies of one SendNotice racing each other queue once.
            if let bound = try Self.notice(db, sender: notice.sender, key: notice.idempotencyKey) { return (bound, false) }
            let chained = try Self.append(access, in: db)
            try db.query("""
                INSERT INTO notices (notice_id, sender, idem_key, fingerprint, portal, id_code, notice_type, title, body, sent_at, position)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(notice.noticeID), .text(notice.sender), .text(notice.idempotencyKey), .blob(notice.fingerprint),
                      .text(notice.portal), .integer(Int64(bitPattern: notice.idCode)), .text(notice.noticeType), .text(notice.title),
                      .text(notice.body), .integer(notice.sentAtMs), .integer(Int64(chained.position))])
            return (notice, true)
        }
    }

    public func pendingNotices(portal: String, afterSeq: Int64, limit: Int) async throws -> [PendingNotice] {
        try await read { db in
            // Joined with the portal's live link: a resident whose portal link has ended (the
            // account was closed) gets nothing more; the notice stays undelivered.
            try db.query("""
                SELECT n.seq, l.key_index, n.notice_id, n.sender, n.idem_key, n.fingerprint, n.portal, n.id_code, n.notice_type,
                       n.title, n.body, n.sent_at, n.delivered_at
                FROM notices n JOIN links l ON l.id_code = n.id_code AND l.org_code = n.portal AND l.unlinked_at IS NULL
                WHERE n.portal = ? AND n.delivered_at IS NULL AND n.seq > ? ORDER BY n.seq LIMIT ?
                """, [.text(portal), .integer(afterSeq), .integer(Int64(limit))]).compactMap { row in
                guard let seq = row.int(0), let keyIndex = row.int(1), let notice = Self.storedNotice(row, from: 2) else { return nil }
                return PendingNotice(seq: seq, notice: notice, keyIndex: UInt16(truncatingIfNeeded: keyIndex))
            }
        }
    }

    public func acknowledgeNotice(portal: String, noticeID: String, nowMs: Int64) async throws -> Bool {
        try await write { db in
            try db.query("""
                UPDATE notices SET delivered_at = ?, title = '', body = '' WHERE notice_id = ? AND portal = ? AND delivered_at IS NULL
                """, [.integer(nowMs), .text(noticeID), .text(portal)])
            return db.changes == 1
        }
    }

    public func noticeCounts() async throws -> (queued: UInt64, delivered: UInt64) {
        try await read { db in
            let row = try db.query("SELECT count(*), count(delivered_at) FROM notices").first
            return (UInt64(row?.int(0) ?? 0), UInt64(row?.int(1) ?? 0))
        }
    }
}
