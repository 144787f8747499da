import Foundation
import LinkcoreSQLite

/// A change from the registry's change log (resident_changes), as the authority reads it. The
/// authority learns only the kind, never the new facts.
public struct RegistryChangeEntry: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case moved, renamed, died
    }

    public var sequence: Int64
    public var residentCode: String
    public var kind: Kind

    public init(sequence: Int64, residentCode: String, kind: Kind) {
        self.sequence = sequence
        self.residentCode = residentCode
        self.kind = kind
    }
}

/// What one batch of registry changes did.
public struct RegistrySyncResult: Sendable, Equatable {
    /// Changes applied now (those at or before the cursor are skipped).
    public var applied: Int
    /// Serials revoked now.
    public var revoked: [String]
    /// The cursor after the batch.
    public var cursor: Int64

    public init(applied: Int, revoked: [String], cursor: Int64) {
        self.applied = applied
        self.revoked = revoked
        self.cursor = cursor
    }
}

/// Revocation is the change signal (issue 14 §3): a move or a new name revokes the holder's
/// current signature certificate (`affiliationChanged`: it no longer states the holder's facts);
/// a death revokes both certificates (`cessationOfOperation`) and the card. The reason tells a
/// verifier only that something changed, never what.
///
/// The cursor (per registry instance, so a rebuilt registry starts over) advances in the same
/// transaction as the revocations: a crash leaves both or neither, and running again applies
/// nothing twice.
extension CardAuthorityStore {
    /// The last change sequence applied from registry `instance` (0 before the first).
    public func registryCursor(instance: String) throws -> Int64 {
        try database.withLock { db in
            try db.query("SELECT sequence FROM registry_cursor WHERE instance = ?", [.text(instance)]).first?.int(0) ?? 0
        }
    }

    /// Applies `changes` (oldest first) after the cursor of registry `instance`, in one transaction.
    public func applyRegistryChanges(instance: String, _ changes: [RegistryChangeEntry], now: Date = Date()) throws -> RegistrySyncResult {
        try database.withLock { db in
            try db.transaction {
                var cursor = try db.query("SELECT sequence FROM registry_cursor WHERE instance = ?", [.text(instance)]).first?.int(0) ?? 0
                var result = RegistrySyncResult(applied: 0, revoked: [], cursor: cursor)
                for change in changes.sorted(by: { $0.sequence < $1.sequence }) where change.sequence > cursor {
                    result.revoked += try Self.apply(db, change, now: now)
                    result.applied += 1
                    cursor = change.sequence
                }
                _ = try db.query("""
                    INSERT INTO registry_cursor (instance, sequence) VALUES (?, ?)
                    ON CONFLICT (instance) DO UPDATE SET sequence = max(sequence, excluded.sequence)
                    """, [.text(instance), .integer(cursor)])
                result.cursor = cursor
                return result
            }
        }
    }

    private static func apply(_ db: SQLiteDatabase, _ change: RegistryChangeEntry, now: Date) throws -> [String] {
        let cards = try db.query("SELECT card FROM cards WHERE resident_code = ? ORDER BY card", [.text(change.residentCode)])
            .compactMap { $0.string(0) }
        var revoked: [String] = []
        for card in cards {
            guard let record = try record(db, card) else { continue }
            switch change.kind {
            case .moved, .renamed:
                let serials = try revoke(db, card: card, generation: record.generation, applications: ["sign"],
                                         reason: .affiliationChanged, now: now)
                if !serials.isEmpty { try logEvent(db, card: card, event: "signature-revoked", state: record.state, now: now) }
                revoked += serials
            case .died:
                revoked += try revoke(db, card: card, generation: record.generation, applications: ["sign", "auth"],
                                      reason: .cessationOfOperation, now: now)
                // The card ends with its holder, if its life cycle allows (an applied card has no
                // certificate and is never issued for the deceased; a revoked one stays so).
                if let next = try? record.state.after(.revoke) {
                    _ = try db.query("UPDATE cards SET state = ?, updated_at = ? WHERE card = ?",
                                     [.text(next.rawValue), .integer(ms(now)), .text(card)])
                    try logEvent(db, card: card, event: CardEvent.revoke.rawValue, state: next, now: now)
                }
            }
        }
        return revoked
    }

    private static func logEvent(_ db: SQLiteDatabase, card: String, event: String, state: CardState, now: Date) throws {
        _ = try db.query("INSERT INTO card_events (card, event, state, at) VALUES (?, ?, ?, ?)",
                         [.text(card), .text(event), .text(state.rawValue), .integer(ms(now))])
    }
}
