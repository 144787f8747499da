import Foundation
import LinkcoreSQLite

/// The consents signed on number cards that the matcher has accepted (issue 14, links made by
/// card): each consent makes one link request, across restarts. Kept in the registry file, where
/// the matching numbers are, committed (WAL, synchronous = FULL) before the match goes on.
///
/// The table is created here rather than as a numbered migration of `RegistryStore`: it belongs to
/// the card path alone, and a registry that never sees a card consent never needs it.
public struct CardConsentLedger: Sendable {
    public let store: RegistryStore

    public init(store: RegistryStore) throws {
        self.store = store
        try store.withDatabase { db in
            try db.execute("""
                CREATE TABLE IF NOT EXISTS card_consents (
                    nonce      TEXT PRIMARY KEY,        -- the consent's 64 hex digits
                    org_code   TEXT NOT NULL,
                    expires_at INTEGER NOT NULL,        -- ms since the epoch
                    used_at    INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS card_consents_expiry ON card_consents (expires_at);
                """)
        }
    }

    /// Records the consent's first use, durably; false when it was used before. Consents that
    /// expired are forgotten in the same transaction: an expired consent is refused before it
    /// reaches the ledger, so its nonce need not be kept.
    public func use(nonceHex: String, orgCode: String, expiresAt: Date, now: Date = Date()) throws -> Bool {
        try store.withDatabase { db in
            try db.transaction {
                try db.query("DELETE FROM card_consents WHERE expires_at <= ?", [.integer(now.milliseconds)])
                try db.query("INSERT OR IGNORE INTO card_consents (nonce, org_code, expires_at, used_at) VALUES (?, ?, ?, ?)",
                             [.text(nonceHex), .text(orgCode), .integer(expiresAt.milliseconds), .integer(now.milliseconds)])
                return db.changes == 1
            }
        }
    }
}
