import Foundation
import LinkcoreSQLite

/// Each certificate's revocation status, kept in the `certificates` row itself (revoked_at,
/// reason) and changed in the same transaction as the card transition or registry change that
/// causes it, so the CRL and OCSP never disagree with the card's recorded state.
///
/// | Cause | Certificates of the card's current generation |
/// |---|---|
/// | suspend (lost card) | both on hold (`certificateHold`) |
/// | resume | holds released (good again); a permanent revocation stays |
/// | revoke | both `cessationOfOperation` |
/// | renew | the old generation `superseded`, the new one good |
/// | registry: move, new name | the signature certificate `affiliationChanged` |
/// | registry: death | both `cessationOfOperation`, the card revoked |
///
/// A hold may become a permanent revocation (RFC 5280 §5.3.1); a permanent revocation is never
/// changed again, so its first reason and date stand.
extension CardAuthorityStore: CertificateStatusSource {
    public func status(serialHex: String) throws -> CertificateStatus {
        try database.withLock { db in
            guard let row = try db.query("SELECT revoked_at, reason FROM certificates WHERE serial = ?",
                                         [.text(serialHex.uppercased())]).first else { return .unknown }
            guard let at = row.int(0) else { return .good }
            return .revoked(at: Self.date(at), reason: row.int(1).flatMap { RevocationReason(rawValue: Int($0)) } ?? .unspecified)
        }
    }

    public func revokedCertificates() throws -> [(serialHex: String, at: Date, reason: RevocationReason)] {
        try database.withLock { db in
            try db.query("SELECT serial, revoked_at, reason FROM certificates WHERE revoked_at IS NOT NULL ORDER BY serial").compactMap { row in
                guard let serial = row.string(0), let at = row.int(1) else { return nil }
                let reason = row.int(2).flatMap { RevocationReason(rawValue: Int($0)) } ?? .unspecified
                return (serialHex: serial, at: Self.date(at), reason: reason)
            }
        }
    }

    /// Certificate history (各証明書の履歴情報): the user certificate of the card's current
    /// generation, given a user certificate of any generation of that card (itself if current), or
    /// nil for a serial that is not a user certificate of this authority. Who may ask is the
    /// caller's check (licensed verifiers only, over mutual TLS).
    public func currentUserCertificate(forUserSerial serialHex: String) throws -> String? {
        try database.withLock { db in
            try db.query("""
                SELECT cur.serial FROM certificates old
                  JOIN cards c ON c.card = old.card
                  JOIN certificates cur ON cur.card = c.card AND cur.generation = c.generation AND cur.application = 'auth'
                WHERE old.serial = ? AND old.application = 'auth'
                """, [.text(serialHex.uppercased())]).first?.string(0)
        }
    }

    /// Takes the next CRL number (durably, so numbers only increase, also across restarts and a
    /// failed publication, which leaves a gap).
    public func nextCRLNumber() throws -> UInt64 {
        try database.withLock { db in
            try db.transaction {
                _ = try db.query("UPDATE crl_number SET last = last + 1 WHERE id = 1")
                let last = try db.query("SELECT last FROM crl_number WHERE id = 1").first?.int(0) ?? 0
                return UInt64(max(0, last))
            }
        }
    }

    // MARK: - Effects (inside the caller's transaction)

    /// The status effect of `event` on `card`'s certificates of `generation` (the generation
    /// current before the event).
    static func applyStatusEffects(_ db: SQLiteDatabase, card: String, event: CardEvent, generation: Int, now: Date) throws {
        switch event {
        case .suspend:
            _ = try db.query("""
                UPDATE certificates SET revoked_at = ?, reason = ? WHERE card = ? AND generation = ? AND revoked_at IS NULL
                """, [.integer(ms(now)), .integer(Int64(RevocationReason.certificateHold.rawValue)), .text(card), .integer(Int64(generation))])
        case .resume:
            _ = try db.query("""
                UPDATE certificates SET revoked_at = NULL, reason = NULL WHERE card = ? AND generation = ? AND reason = ?
                """, [.text(card), .integer(Int64(generation)), .integer(Int64(RevocationReason.certificateHold.rawValue))])
        case .revoke:
            try revoke(db, card: card, generation: generation, applications: ["sign", "auth"], reason: .cessationOfOperation, now: now)
        case .renew:
            try revoke(db, card: card, generation: generation, applications: ["sign", "auth"], reason: .superseded, now: now)
        case .personalise, .send, .activate:
            break
        }
    }

    /// Revokes the card's certificates of `generation` for `applications` with `reason`, unless
    /// already permanently revoked (a hold becomes permanent). Returns the serials revoked now.
    @discardableResult
    static func revoke(_ db: SQLiteDatabase, card: String, generation: Int, applications: [String], reason: RevocationReason,
                       now: Date) throws -> [String] {
        let hold = Int64(RevocationReason.certificateHold.rawValue)
        var revoked: [String] = []
        for application in applications {
            let rows = try db.query("""
                SELECT serial FROM certificates
                WHERE card = ? AND generation = ? AND application = ? AND (revoked_at IS NULL OR reason = ?)
                """, [.text(card), .integer(Int64(generation)), .text(application), .integer(hold)])
            for serial in rows.compactMap({ $0.string(0) }) {
                _ = try db.query("UPDATE certificates SET revoked_at = ?, reason = ? WHERE serial = ?",
                                 [.integer(ms(now)), .integer(Int64(reason.rawValue)), .text(serial)])
                revoked.append(serial)
            }
        }
        return revoked
    }

    static func date(_ ms: Int64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }
}
