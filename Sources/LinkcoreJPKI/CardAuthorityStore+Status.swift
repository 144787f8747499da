import Foundation
import LinkcoreSQLite

/// A card certificate's status from what the store records today (cards, their events and the
/// certificates of each generation). Minimal, written for the OCSP responder while the life-cycle
/// work (revoke/renew commands, registry changes revoking the signature certificate) lands; the
/// authoritative version of this conformance comes with it.
///
/// - not in `certificates`: unknown (not issued by this authority);
/// - the card revoked: revoked, cessationOfOperation, at the revocation;
/// - a later generation issued (renewal): revoked, superseded, when the next one was issued;
/// - the card suspended: revoked, certificateHold, at the suspension (released on resume);
/// - otherwise good.
extension CardAuthorityStore: CertificateStatusSource {
    public func status(serialHex: String) throws -> CertificateStatus {
        try database.withLock { db in try Self.status(db, serialHex: serialHex.uppercased()) }
    }

    public func revokedCertificates() throws -> [(serialHex: String, at: Date, reason: RevocationReason)] {
        try database.withLock { db in
            let serials = try db.query("SELECT serial FROM certificates ORDER BY serial").compactMap { $0.string(0) }
            return try serials.compactMap { serial in
                guard case .revoked(let at, let reason) = try Self.status(db, serialHex: serial) else { return nil }
                return (serial, at, reason)
            }
        }
    }

    static func status(_ db: SQLiteDatabase, serialHex: String) throws -> CertificateStatus {
        guard let row = try db.query("""
            SELECT c.card, c.generation, k.state, k.generation FROM certificates c JOIN cards k ON k.card = c.card
            WHERE c.serial = ?
            """, [.text(serialHex)]).first,
              let card = row.string(0), let state = row.string(2).flatMap(CardState.init(rawValue:)) else { return .unknown }
        let generation = row.int(1) ?? 0
        func lastEvent(_ event: CardEvent) throws -> Date {
            let at = try db.query("SELECT MAX(at) FROM card_events WHERE card = ? AND event = ?", [.text(card), .text(event.rawValue)])
                .first?.int(0) ?? 0
            return Date(timeIntervalSince1970: TimeInterval(at) / 1000)
        }
        if state == .revoked { return .revoked(at: try lastEvent(.revoke), reason: .cessationOfOperation) }
        if generation < (row.int(3) ?? 0) {
            let next = try db.query("SELECT MIN(issued_at) FROM certificates WHERE card = ? AND generation > ?",
                                    [.text(card), .integer(generation)]).first?.int(0) ?? 0
            return .revoked(at: Date(timeIntervalSince1970: TimeInterval(next) / 1000), reason: .superseded)
        }
        if state == .suspended { return .revoked(at: try lastEvent(.suspend), reason: .certificateHold) }
        return .good
    }
}
