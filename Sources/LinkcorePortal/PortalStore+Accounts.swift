import Foundation
import LinkcoreSQLite

/// Accounts (issue 15, item 5): each LP's state, and the account's own durable event log, which
/// the resident reads on the account page (/account). One write per change, so the page that says
/// "suspended" or "closed" says it about something on disk.
extension PortalStore {
    /// Migration 2 of the portal's file (appended after the foundation's).
    static let accountsMigration = """
        -- One row per LP the portal ever opened an account for. 'closed' rows stay (the LP was
        -- unlinked at the core and is dead): the closing is still shown and audited.
        CREATE TABLE accounts (
            lp_link_code TEXT PRIMARY KEY,
            state TEXT NOT NULL CHECK (state IN ('active', 'suspended', 'closed')),
            opened_at_ms INTEGER NOT NULL,
            changed_at_ms INTEGER NOT NULL
        );
        -- What happened to an account, in order: opened, login, renewed, suspended, resumed,
        -- closed, refused_suspended. detail: a generation or a reason, never a serial in clear.
        CREATE TABLE account_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            lp_link_code TEXT NOT NULL,
            kind TEXT NOT NULL,
            at_ms INTEGER NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX account_events_lp ON account_events(lp_link_code, seq);
        """

    public enum AccountState: String, Sendable {
        case active, suspended, closed
    }

    public struct AccountEvent: Sendable, Equatable {
        public var kind: String
        public var atMs: Int64
        public var detail: String
    }

    public func accountState(lpLinkCode: String) async throws -> AccountState? {
        try await queue.read { db in
            try db.query("SELECT state FROM accounts WHERE lp_link_code = ?", [.text(lpLinkCode)]).first
                .flatMap { $0.string(0) }.flatMap(AccountState.init(rawValue:))
        }
    }

    /// Account opening or a later card step with the signature certificate: binds the user
    /// certificate to LP (next generation when LP has one already), creates the account (active)
    /// or resumes a suspended one, and logs what happened; one durable write. Returns the state
    /// the account was in before (nil: new).
    public func openOrResume(lpLinkCode: String, certSerial: String, nowMs: Int64) async throws -> (before: AccountState?, binding: Binding) {
        let serial = certSerial.uppercased()
        return try await queue.write { db in
            let before = try db.query("SELECT state FROM accounts WHERE lp_link_code = ?", [.text(lpLinkCode)]).first
                .flatMap { $0.string(0) }.flatMap(AccountState.init(rawValue:))
            // The matcher's LP is the truth: a binding left to an LP the core no longer links
            // (unlinked by an operator, say) gives way.
            _ = try db.query("DELETE FROM bindings WHERE cert_serial = ? AND lp_link_code != ?", [.text(serial), .text(lpLinkCode)])
            let binding = try Self.bind(db, serial: serial, lpLinkCode: lpLinkCode, nowMs: nowMs)
            switch before {
            case nil, .closed?:
                _ = try db.query("INSERT OR REPLACE INTO accounts VALUES (?, 'active', ?, ?)", [.text(lpLinkCode), .integer(nowMs), .integer(nowMs)])
                try Self.log(db, lpLinkCode, "opened", nowMs, "generation \(binding.generation)")
            case .suspended?:
                _ = try db.query("UPDATE accounts SET state = 'active', changed_at_ms = ? WHERE lp_link_code = ?", [.integer(nowMs), .text(lpLinkCode)])
                try Self.log(db, lpLinkCode, "resumed", nowMs, "")
            case .active?:
                try Self.log(db, lpLinkCode, "card_confirmed", nowMs, "generation \(binding.generation)")
            }
            return (before, binding)
        }
    }

    /// A renewed card's new user certificate, found through the card authority's history: bound
    /// to the same LP with the next generation, and logged.
    public func bindRenewal(lpLinkCode: String, certSerial: String, nowMs: Int64) async throws -> Binding {
        let serial = certSerial.uppercased()
        return try await queue.write { db in
            let binding = try Self.bind(db, serial: serial, lpLinkCode: lpLinkCode, nowMs: nowMs)
            try Self.log(db, lpLinkCode, "renewed", nowMs, "generation \(binding.generation)")
            return binding
        }
    }

    /// Suspends an active account: its sessions end in the same write (logins and log reads are
    /// refused from now on). False when it was not active.
    public func suspend(lpLinkCode: String, nowMs: Int64) async throws -> Bool {
        try await queue.write { db in
            _ = try db.query("UPDATE accounts SET state = 'suspended', changed_at_ms = ? WHERE lp_link_code = ? AND state = 'active'",
                             [.integer(nowMs), .text(lpLinkCode)])
            guard db.changes == 1 else { return false }
            _ = try db.query("DELETE FROM sessions WHERE lp_link_code = ?", [.text(lpLinkCode)])
            try Self.log(db, lpLinkCode, "suspended", nowMs, "")
            return true
        }
    }

    /// Closes an account once the core has unlinked LP: the folder, the bindings and the
    /// sessions go, the account row stays 'closed' with its event log. One write.
    public func close(lpLinkCode: String, nowMs: Int64) async throws {
        try await queue.write { db in
            _ = try db.query("UPDATE accounts SET state = 'closed', changed_at_ms = ? WHERE lp_link_code = ?", [.integer(nowMs), .text(lpLinkCode)])
            for table in ["notices", "bindings", "sessions"] {
                _ = try db.query("DELETE FROM \(table) WHERE lp_link_code = ?", [.text(lpLinkCode)])
            }
            try Self.log(db, lpLinkCode, "closed", nowMs, "")
        }
    }

    public func logAccountEvent(lpLinkCode: String, kind: String, nowMs: Int64, detail: String = "") async throws {
        try await queue.write { db in try Self.log(db, lpLinkCode, kind, nowMs, detail) }
    }

    /// The account's events, newest first.
    public func accountEvents(lpLinkCode: String, limit: Int = 50) async throws -> [AccountEvent] {
        try await queue.read { db in
            try db.query("SELECT kind, at_ms, detail FROM account_events WHERE lp_link_code = ? ORDER BY seq DESC LIMIT ?",
                         [.text(lpLinkCode), .integer(Int64(limit))]).map {
                AccountEvent(kind: $0.string(0) ?? "", atMs: $0.int(1) ?? 0, detail: $0.string(2) ?? "")
            }
        }
    }

    static func log(_ db: SQLiteDatabase, _ lp: String, _ kind: String, _ atMs: Int64, _ detail: String) throws {
        _ = try db.query("INSERT INTO account_events (lp_link_code, kind, at_ms, detail) VALUES (?, ?, ?, ?)",
                         [.text(lp), .text(kind), .integer(atMs), .text(detail)])
    }
}
