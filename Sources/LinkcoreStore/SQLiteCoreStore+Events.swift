import LinkcoreSQLite

extension SQLiteCoreStore: EventStore {
    public func idCode(residentHash: [UInt8]) async throws -> UInt64? {
        try await read { db in
            try db.query("SELECT id_code FROM residents WHERE resident_hash = ?", [.blob(residentHash)]).first?.int(0)
                .map { UInt64(bitPattern: $0) }
        }
    }

    public func liveLinks(idCode: UInt64) async throws -> [Link] {
        try await read { db in
            try db.query("SELECT \(Self.linkColumns) FROM links WHERE id_code = ? AND unlinked_at IS NULL ORDER BY org_code",
                         [.integer(Int64(bitPattern: idCode))]).compactMap { Self.link($0) }
        }
    }

    public func changeReport(reporter: String, reportID: String) async throws -> Int? {
        try await read { db in try Self.reportCount(db, reporter: reporter, reportID: reportID) }
    }

    public func fanoutTargets(reporter: String, reportID: String, residentHash: [UInt8]) async throws -> FanoutTargets {
        try await read { db in
            if let seen = try Self.reportCount(db, reporter: reporter, reportID: reportID) {
                return FanoutTargets(seen: seen, idCode: nil, links: [])
            }
            guard let id = try db.query("SELECT id_code FROM residents WHERE resident_hash = ?", [.blob(residentHash)]).first?.int(0) else {
                return FanoutTargets(seen: nil, idCode: nil, links: [])
            }
            let links = try db.query("SELECT \(Self.linkColumns) FROM links WHERE id_code = ? AND unlinked_at IS NULL ORDER BY org_code",
                                     [.integer(id)]).compactMap { Self.link($0) }
            return FanoutTargets(seen: nil, idCode: UInt64(bitPattern: id), links: links)
        }
    }

    static func reportCount(_ db: SQLiteDatabase, reporter: String, reportID: String) throws -> Int? {
        try db.query("SELECT queued FROM change_reports WHERE reporter = ? AND report_id = ?",
                     [.text(reporter), .text(reportID)]).first?.int(0).map { Int($0) }
    }

    public func queueEvents(reporter: String, reportID: String, entries: [OutboxEntry], nowMs: Int64) async throws -> (queued: Int, duplicate: Bool) {
        try await write { db in
            // Checked inside the write: two copies of one report racing each other queue once.
            if let queued = try Self.reportCount(db, reporter: reporter, reportID: reportID) { return (queued, true) }
            try db.query("INSERT INTO change_reports (reporter, report_id, queued, received_at) VALUES (?, ?, ?, ?)",
                         [.text(reporter), .text(reportID), .integer(Int64(entries.count)), .integer(nowMs)])
            for e in entries {
                // Joining the receiver's waiting batch is decided inside this write, so two
                // reports racing for one receiver still share its batch.
                var due = e.dueAtMs
                if let range = e.batchRange, let waiting = try db.query("""
                    SELECT max(due_at) FROM event_outbox WHERE org_code = ? AND acked_at IS NULL AND due_at >= ? AND due_at < ?
                    """, [.text(e.orgCode), .integer(range.lowerBound), .integer(range.upperBound)]).first?.int(0) {
                    due = waiting
                }
                try db.query("""
                    INSERT INTO event_outbox (event_id, org_code, id_code, kind, occurred_at, delivery, due_at, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.text(e.eventID), .text(e.orgCode), .integer(Int64(bitPattern: e.idCode)), .integer(Int64(e.kind)),
                          .integer(e.occurredAtMs), .integer(Int64(e.delivery.rawValue)), .integer(due), .integer(e.createdAtMs)])
            }
            return (entries.count, false)
        }
    }

    public func pendingEvents(orgCode: String, dueBy nowMs: Int64, after: EventPosition?, limit: Int) async throws -> [PendingEvent] {
        try await read { db in
            // Joined with the live link: an event for a link ended since is not sent (the
            // organisation no longer knows the resident by that code). Release order, not
            // outbox order: `seq` is global, so two receivers would see one change's events
            // in the same relative order; the event id is random per receiver.
            try db.query("""
                SELECT o.seq, o.event_id, o.id_code, o.kind, o.occurred_at, o.delivery, o.due_at, o.created_at, l.key_index
                FROM event_outbox o JOIN links l ON l.id_code = o.id_code AND l.org_code = o.org_code AND l.unlinked_at IS NULL
                WHERE o.org_code = ? AND o.acked_at IS NULL AND o.due_at <= ? AND (o.due_at, o.event_id) > (?, ?)
                ORDER BY o.due_at, o.event_id LIMIT ?
                """, [.text(orgCode), .integer(nowMs), .integer(after?.dueAtMs ?? Int64.min), .text(after?.eventID ?? ""),
                      .integer(Int64(limit))]).compactMap { row in
                guard let seq = row.int(0), let id = row.string(1), let idCode = row.int(2), let kind = row.int(3),
                      let occurred = row.int(4), let delivery = row.int(5).flatMap({ EventDelivery(rawValue: Int($0)) }),
                      let due = row.int(6), let created = row.int(7), let keyIndex = row.int(8) else { return nil }
                return PendingEvent(seq: seq, entry: OutboxEntry(
                    eventID: id, orgCode: orgCode, idCode: UInt64(bitPattern: idCode), kind: Int(kind), occurredAtMs: occurred,
                    delivery: delivery, dueAtMs: due, createdAtMs: created), keyIndex: UInt16(truncatingIfNeeded: keyIndex))
            }
        }
    }

    public func nextRelease(orgCode: String, after nowMs: Int64) async throws -> Int64? {
        try await read { db in
            try db.query("SELECT min(due_at) FROM event_outbox WHERE org_code = ? AND acked_at IS NULL AND due_at > ?",
                         [.text(orgCode), .integer(nowMs)]).first?.int(0)
        }
    }

    public func acknowledgeEvents(orgCode: String, eventIDs: [String], nowMs: Int64,
                                  charge: (@Sendable (_ eventID: String) -> FeeCharge)?) async throws -> Int {
        guard !eventIDs.isEmpty else { return 0 }
        return try await write { db in
            var marked = 0
            for id in eventIDs {
                try db.query("UPDATE event_outbox SET acked_at = ? WHERE event_id = ? AND org_code = ? AND acked_at IS NULL",
                             [.integer(nowMs), .text(id), .text(orgCode)])
                guard db.changes == 1 else { continue }
                marked += 1
                if let charge { try Self.insert(charge(id), in: db) }
            }
            return marked
        }
    }

    public func eventCounts() async throws -> EventCounts {
        try await read { db in
            let row = try db.query("SELECT count(*), count(acked_at) FROM event_outbox").first
            return EventCounts(queued: UInt64(row?.int(0) ?? 0), delivered: UInt64(row?.int(1) ?? 0))
        }
    }
}
