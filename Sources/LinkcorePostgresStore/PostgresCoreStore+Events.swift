import LinkcoreStore
import PostgresNIO

extension PostgresCoreStore: EventStore {
    public func idCode(residentHash: [UInt8]) async throws -> UInt64? {
        try await read { db in
            try await db.first("SELECT id_code FROM residents WHERE resident_hash = \(residentHash.bytea)")
                .map { UInt64(bitPattern: try $0.int(0)) }
        }
    }

    static func liveLinks(_ db: PostgresSession, _ idCode: Int64) async throws -> [Link] {
        try await db.rows("""
            SELECT \(unescaped: linkColumns) FROM links WHERE id_code = \(idCode) AND unlinked_at IS NULL ORDER BY org_code
            """).map { try link($0) }
    }

    public func liveLinks(idCode: UInt64) async throws -> [Link] {
        try await read { db in try await Self.liveLinks(db, Int64(bitPattern: idCode)) }
    }

    static func reportCount(_ db: PostgresSession, reporter: String, reportID: String) async throws -> Int? {
        try await db.first("SELECT queued FROM change_reports WHERE reporter = \(reporter) AND report_id = \(reportID)")
            .map { Int(try $0.int(0)) }
    }

    public func changeReport(reporter: String, reportID: String) async throws -> Int? {
        try await read { db in try await Self.reportCount(db, reporter: reporter, reportID: reportID) }
    }

    public func fanoutTargets(reporter: String, reportID: String, residentHash: [UInt8]) async throws -> FanoutTargets {
        try await read { db in
            if let seen = try await Self.reportCount(db, reporter: reporter, reportID: reportID) {
                return FanoutTargets(seen: seen, idCode: nil, links: [])
            }
            guard let id = try await db.first("SELECT id_code FROM residents WHERE resident_hash = \(residentHash.bytea)")?.int(0) else {
                return FanoutTargets(seen: nil, idCode: nil, links: [])
            }
            return FanoutTargets(seen: nil, idCode: UInt64(bitPattern: id), links: try await Self.liveLinks(db, id))
        }
    }

    public func queueEvents(reporter: String, reportID: String, entries: [OutboxEntry], nowMs: Int64) async throws -> (queued: Int, duplicate: Bool) {
        try await write { db in
            // The dedup row first, with ON CONFLICT: of two copies of one report racing (on any
            // node) one inserts it, the other waits for it and then queues nothing.
            let inserted = try await db.first("""
                INSERT INTO change_reports (reporter, report_id, queued, received_at)
                VALUES (\(reporter), \(reportID), \(Int64(entries.count)), \(nowMs))
                ON CONFLICT (reporter, report_id) DO NOTHING RETURNING 1
                """) != nil
            if !inserted {
                return (try await Self.reportCount(db, reporter: reporter, reportID: reportID) ?? 0, true)
            }
            for e in entries {
                var due = e.dueAtMs
                if let range = e.batchRange, let waiting = try await db.first("""
                    SELECT max(due_at) FROM event_outbox WHERE org_code = \(e.orgCode) AND acked_at IS NULL
                    AND due_at >= \(range.lowerBound) AND due_at < \(range.upperBound)
                    """)?.optionalInt(0) {
                    due = waiting
                }
                try await db.execute("""
                    INSERT INTO event_outbox (event_id, org_code, id_code, kind, occurred_at, delivery, due_at, created_at)
                    VALUES (\(e.eventID), \(e.orgCode), \(Int64(bitPattern: e.idCode)), \(Int64(e.kind)), \(e.occurredAtMs),
                            \(Int64(e.delivery.rawValue)), \(due), \(e.createdAtMs))
                    """)
            }
            return (entries.count, false)
        }
    }

    static func pending(_ row: Columns, orgCode: String) throws -> PendingEvent? {
        guard let delivery = EventDelivery(rawValue: Int(try row.int(5))) else { return nil }
        return PendingEvent(seq: try row.int(0), entry: OutboxEntry(
            eventID: try row.string(1), orgCode: orgCode, idCode: UInt64(bitPattern: try row.int(2)), kind: Int(try row.int(3)),
            occurredAtMs: try row.int(4), delivery: delivery, dueAtMs: try row.int(6), createdAtMs: try row.int(7)),
            keyIndex: UInt16(truncatingIfNeeded: try row.int(8)))
    }

    public func pendingEvents(orgCode: String, dueBy nowMs: Int64, after: EventPosition?, limit: Int) async throws -> [PendingEvent] {
        try await read { db in
            try await db.rows("""
                SELECT o.seq, o.event_id, o.id_code, o.kind, o.occurred_at, o.delivery, o.due_at, o.created_at, l.key_index
                FROM event_outbox o JOIN links l ON l.id_code = o.id_code AND l.org_code = o.org_code AND l.unlinked_at IS NULL
                WHERE o.org_code = \(orgCode) AND o.acked_at IS NULL AND o.due_at <= \(nowMs)
                  AND (o.due_at, o.event_id) > (\(after?.dueAtMs ?? Int64.min), \(after?.eventID ?? ""))
                ORDER BY o.due_at, o.event_id LIMIT \(Int64(limit))
                """).compactMap { try Self.pending($0, orgCode: orgCode) }
        }
    }

    /// Claims up to `limit` of an organisation's due, unacknowledged events for `node` until
    /// `leaseUntilMs`, skipping rows another node is claiming at this moment (FOR UPDATE SKIP
    /// LOCKED) and rows under another node's unexpired lease; returns them in release order.
    /// For several nodes (the cluster slice): the node that holds the receiver's connection
    /// claims, pushes, and the receiver's acknowledgement marks them once (`acknowledgeEvents`).
    /// An expired lease (its node died) makes the events claimable again: delivered at least once.
    public func claimEvents(orgCode: String, node: String, dueBy nowMs: Int64, leaseUntilMs: Int64, limit: Int) async throws -> [PendingEvent] {
        try await write { db in
            try await db.rows("""
                WITH due AS (
                    SELECT o.seq FROM event_outbox o
                    JOIN links l ON l.id_code = o.id_code AND l.org_code = o.org_code AND l.unlinked_at IS NULL
                    WHERE o.org_code = \(orgCode) AND o.acked_at IS NULL AND o.due_at <= \(nowMs)
                      AND (o.claimed_until IS NULL OR o.claimed_until <= \(nowMs) OR o.claimed_by = \(node))
                    ORDER BY o.due_at, o.event_id LIMIT \(Int64(limit))
                    FOR UPDATE OF o SKIP LOCKED
                )
                UPDATE event_outbox o SET claimed_by = \(node), claimed_until = \(leaseUntilMs)
                FROM due, links l
                WHERE o.seq = due.seq AND l.id_code = o.id_code AND l.org_code = o.org_code AND l.unlinked_at IS NULL
                RETURNING o.seq, o.event_id, o.id_code, o.kind, o.occurred_at, o.delivery, o.due_at, o.created_at, l.key_index
                """).compactMap { try Self.pending($0, orgCode: orgCode) }
                .sorted { ($0.entry.dueAtMs, $0.entry.eventID) < ($1.entry.dueAtMs, $1.entry.eventID) }
        }
    }

    public func nextRelease(orgCode: String, after nowMs: Int64) async throws -> Int64? {
        try await read { db in
            try await db.first("""
                SELECT min(due_at) FROM event_outbox WHERE org_code = \(orgCode) AND acked_at IS NULL AND due_at > \(nowMs)
                """)?.optionalInt(0)
        }
    }

    public func acknowledgeEvents(orgCode: String, eventIDs: [String], nowMs: Int64,
                                  charge: (@Sendable (_ eventID: String) -> FeeCharge)?) async throws -> Int {
        guard !eventIDs.isEmpty else { return 0 }
        return try await write { db in
            // One statement: the rows this call marks (acked_at was NULL) come back, once.
            let marked = try await db.rows("""
                UPDATE event_outbox SET acked_at = \(nowMs)
                WHERE event_id = ANY(\(eventIDs)) AND org_code = \(orgCode) AND acked_at IS NULL RETURNING event_id
                """).map { try $0.string(0) }
            if let charge { for id in marked { try await Self.insert(charge(id), in: db) } }
            return marked.count
        }
    }

    public func eventCounts() async throws -> EventCounts {
        try await read { db in
            let row = try await db.first("SELECT count(*), count(acked_at) FROM event_outbox")
            return EventCounts(queued: UInt64(try row?.int(0) ?? 0), delivered: UInt64(try row?.int(1) ?? 0))
        }
    }
}
