import LinkcoreAudit
import LinkcoreStore
import PostgresNIO

extension PostgresCoreStore: NoticeStore {
    static let noticeColumns = "notice_id, sender, idem_key, fingerprint, portal, id_code, notice_type, title, body, sent_at, delivered_at"

    static func storedNotice(_ row: Columns, from o: Int = 0) throws -> StoredNotice {
        StoredNotice(noticeID: try row.string(o), sender: try row.string(o + 1), idempotencyKey: try row.string(o + 2),
                     fingerprint: try row.bytes(o + 3), portal: try row.string(o + 4), idCode: UInt64(bitPattern: try row.int(o + 5)),
                     noticeType: try row.string(o + 6), title: try row.string(o + 7), body: try row.string(o + 8),
                     sentAtMs: try row.int(o + 9), deliveredAtMs: try row.optionalInt(o + 10))
    }

    static func notice(_ db: PostgresSession, sender: String, key: String) async throws -> StoredNotice? {
        try await db.first("SELECT \(unescaped: noticeColumns) FROM notices WHERE sender = \(sender) AND idem_key = \(key)")
            .map { try storedNotice($0) }
    }

    public func notice(sender: String, key: String) async throws -> StoredNotice? {
        try await read { db in try await Self.notice(db, sender: sender, key: key) }
    }

    public func queueNotice(_ notice: StoredNotice, access: AccessRecord) async throws -> (notice: StoredNotice, written: Bool) {
        try await write { db in
            if let bound = try await Self.notice(db, sender: notice.sender, key: notice.idempotencyKey) { return (bound, false) }
            let chained = try await Self.append(access, in: db)
            do {
                try await db.execute("""
                    INSERT INTO notices (notice_id, sender, idem_key, fingerprint, portal, id_code, notice_type, title, body, sent_at, position)
                    VALUES (\(notice.noticeID), \(notice.sender), \(notice.idempotencyKey), \(notice.fingerprint.bytea), \(notice.portal),
                            \(Int64(bitPattern: notice.idCode)), \(notice.noticeType), \(notice.title), \(notice.body), \(notice.sentAtMs),
                            \(Int64(chained.position)))
                    """)
            } catch where PostgresErrors.isUniqueViolation(error) {
                // Another node bound the key meanwhile: this write rolls back (its log entry with
                // it) and the caller retries, then finds the bound notice.
                throw StoreError.unavailable("the notice's key was bound concurrently; retry")
            }
            return (notice, true)
        }
    }

    public func pendingNotices(portal: String, afterSeq: Int64, limit: Int) async throws -> [PendingNotice] {
        try await read { db in
            try await db.rows("""
                SELECT n.seq, l.key_index, n.notice_id, n.sender, n.idem_key, n.fingerprint, n.portal, n.id_code, n.notice_type,
                       n.title, n.body, n.sent_at, n.delivered_at
                FROM notices n JOIN links l ON l.id_code = n.id_code AND l.org_code = n.portal AND l.unlinked_at IS NULL
                WHERE n.portal = \(portal) AND n.delivered_at IS NULL AND n.seq > \(afterSeq) ORDER BY n.seq LIMIT \(Int64(limit))
                """).map { row in
                PendingNotice(seq: try row.int(0), notice: try Self.storedNotice(row, from: 2), keyIndex: UInt16(truncatingIfNeeded: try row.int(1)))
            }
        }
    }

    public func acknowledgeNotice(portal: String, noticeID: String, nowMs: Int64) async throws -> Bool {
        try await write { db in
            try await db.first("""
                UPDATE notices SET delivered_at = \(nowMs), title = '', body = ''
                WHERE notice_id = \(noticeID) AND portal = \(portal) AND delivered_at IS NULL RETURNING 1
                """) != nil
        }
    }

    public func noticeCounts() async throws -> (queued: UInt64, delivered: UInt64) {
        try await read { db in
            let row = try await db.first("SELECT count(*), count(delivered_at) FROM notices")
            return (UInt64(try row?.int(0) ?? 0), UInt64(try row?.int(1) ?? 0))
        }
    }
}
