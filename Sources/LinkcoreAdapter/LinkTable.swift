import Foundation
import LinkcoreSQLite

/// The adapter's durable state in its own SQLite file: the organisation's link table (its
/// internal person ID ↔ its link code), link requests waiting for the core's LinkIssued, and
/// the change events received. Every write returns only once committed (WAL + synchronous=FULL),
/// so a push is acknowledged to the core only after it is on disk.
public final class LinkTable: Sendable {
    let queue: GroupCommitQueue

    public struct Link: Sendable, Codable, Equatable {
        public var personID: String?
        public var linkCode: String
        public var keyIndex: Int
        public var linkedAtMs: Int64
        public var consentRef: String?
    }

    public struct Event: Sendable, Codable, Equatable {
        public var eventID: String
        public var linkCode: String
        public var personID: String?
        public var kind: String
        public var occurredAtMs: Int64
        public var receivedAtMs: Int64
        public var acknowledged: Bool
    }

    static let migrations = [
        """
        CREATE TABLE links (
            link_code TEXT PRIMARY KEY,
            person_id TEXT UNIQUE,          -- NULL: issued for a request this adapter no longer knows
            key_index INTEGER NOT NULL,
            linked_at_ms INTEGER NOT NULL,
            consent_ref TEXT,
            matching_number TEXT
        );
        CREATE TABLE pending_links (
            matching_number TEXT PRIMARY KEY,
            person_id TEXT NOT NULL,
            consent_ref TEXT NOT NULL,
            requested_at_ms INTEGER NOT NULL
        );
        CREATE TABLE events (
            event_id TEXT PRIMARY KEY,      -- the core delivers at least once: dedup here
            link_code TEXT NOT NULL,
            kind TEXT NOT NULL,
            occurred_at_ms INTEGER NOT NULL,
            received_at_ms INTEGER NOT NULL,
            acknowledged_at_ms INTEGER      -- by the organisation's system, through the local API
        );
        CREATE INDEX events_open ON events(acknowledged_at_ms, received_at_ms);
        """,
    ]

    public init(path: String) throws {
        let db = try SQLiteDatabase(path: path)
        try db.migrate(Self.migrations)
        queue = GroupCommitQueue(database: db, label: "linkcore-adapter.links")
    }

    static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Remembers whom a matching number was requested for, before the core can issue its link.
    public func addPending(matchingNumber: String, personID: String, consentRef: String) async throws {
        try await queue.write { db in
            _ = try db.query(
                "INSERT OR REPLACE INTO pending_links VALUES (?, ?, ?, ?)",
                [.text(matchingNumber), .text(personID), .text(consentRef), .integer(Self.nowMs())])
        }
    }

    /// Stores an issued link (pushed or fetched) under the person it was requested for.
    /// Idempotent: the same link stored twice is one row. Returns the stored link.
    @discardableResult
    public func storeIssued(matchingNumber: String, linkCode: String, keyIndex: Int, linkedAtMs: Int64) async throws -> Link {
        try await queue.write { db in
            let pending = try db.query("SELECT person_id, consent_ref FROM pending_links WHERE matching_number = ?", [.text(matchingNumber)]).first
            let person = pending?.string(0)
            if let person {
                // A person has one live link per organisation: a new one replaces the old row.
                _ = try db.query("DELETE FROM links WHERE person_id = ? AND link_code <> ?", [.text(person), .text(linkCode)])
            }
            _ = try db.query(
                """
                INSERT INTO links VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(link_code) DO UPDATE SET person_id = COALESCE(excluded.person_id, links.person_id)
                """,
                [.text(linkCode), person.map { .text($0) } ?? .null, .integer(Int64(keyIndex)), .integer(linkedAtMs),
                 pending?.string(1).map { .text($0) } ?? .null, .text(matchingNumber)])
            _ = try db.query("DELETE FROM pending_links WHERE matching_number = ?", [.text(matchingNumber)])
            return Link(personID: person, linkCode: linkCode, keyIndex: keyIndex, linkedAtMs: linkedAtMs, consentRef: pending?.string(1))
        }
    }

    public func link(personID: String) async throws -> Link? {
        try await queue.read { db in
            try db.query("SELECT link_code, key_index, linked_at_ms, consent_ref FROM links WHERE person_id = ?", [.text(personID)]).first.map {
                Link(personID: personID, linkCode: $0.string(0) ?? "", keyIndex: Int($0.int(1) ?? 0), linkedAtMs: $0.int(2) ?? 0, consentRef: $0.string(3))
            }
        }
    }

    public func personID(linkCode: String) async throws -> String? {
        try await queue.read { db in
            try db.query("SELECT person_id FROM links WHERE link_code = ?", [.text(linkCode)]).first?.string(0)
        }
    }

    public func linkCount() async throws -> Int {
        try await queue.read { db in Int(try db.query("SELECT count(*) FROM links").first?.int(0) ?? 0) }
    }

    /// Stores a change event; a repeat of an event id already stored changes nothing.
    /// Returns whether it was new.
    @discardableResult
    public func storeEvent(eventID: String, linkCode: String, kind: String, occurredAtMs: Int64) async throws -> Bool {
        try await queue.write { db in
            _ = try db.query(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, NULL)",
                [.text(eventID), .text(linkCode), .text(kind), .integer(occurredAtMs), .integer(Self.nowMs())])
            return db.changes == 1
        }
    }

    /// Events in the order received; only those the organisation has not acknowledged unless `all`.
    public func events(all: Bool, limit: Int) async throws -> [Event] {
        try await queue.read { db in
            try db.query(
                """
                SELECT e.event_id, e.link_code, l.person_id, e.kind, e.occurred_at_ms, e.received_at_ms, e.acknowledged_at_ms
                FROM events e LEFT JOIN links l ON l.link_code = e.link_code
                \(all ? "" : "WHERE e.acknowledged_at_ms IS NULL")
                ORDER BY e.received_at_ms, e.event_id LIMIT ?
                """, [.integer(Int64(limit))]
            ).map {
                Event(eventID: $0.string(0) ?? "", linkCode: $0.string(1) ?? "", personID: $0.string(2), kind: $0.string(3) ?? "",
                      occurredAtMs: $0.int(4) ?? 0, receivedAtMs: $0.int(5) ?? 0, acknowledged: !$0.isNull(6))
            }
        }
    }

    public func pendingEventCount() async throws -> Int {
        try await queue.read { db in
            Int(try db.query("SELECT count(*) FROM events WHERE acknowledged_at_ms IS NULL").first?.int(0) ?? 0)
        }
    }

    /// Marks events handled by the organisation; returns how many were newly marked.
    public func acknowledgeEvents(_ ids: [String]) async throws -> Int {
        try await queue.write { db in
            var marked = 0
            let now = Self.nowMs()
            for id in ids {
                _ = try db.query("UPDATE events SET acknowledged_at_ms = ? WHERE event_id = ? AND acknowledged_at_ms IS NULL", [.integer(now), .text(id)])
                marked += db.changes
            }
            return marked
        }
    }
}

extension LinkTable {
    public func isPending(matchingNumber: String) async throws -> Bool {
        try await queue.read { db in
            try !db.query("SELECT 1 FROM pending_links WHERE matching_number = ?", [.text(matchingNumber)]).isEmpty
        }
    }
}
