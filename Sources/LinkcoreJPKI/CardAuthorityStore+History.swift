import Foundation
import LinkcoreSQLite

/// A user certificate's place in its card's history: the generation it was issued in, and the
/// card's current user certificate (the highest generation's).
public struct UserCertificateHistory: Sendable, Equatable {
    public var askedSerial: String
    public var askedGeneration: Int
    public var currentSerial: String
    public var currentGeneration: Int
    /// The card's user certificates of generations below the asked one, oldest first: how a
    /// verifier shown a renewed card's new certificate finds the one it bound before.
    public var earlierSerials: [String]

    public init(askedSerial: String, askedGeneration: Int, currentSerial: String, currentGeneration: Int, earlierSerials: [String] = []) {
        self.askedSerial = askedSerial
        self.askedGeneration = askedGeneration
        self.currentSerial = currentSerial
        self.currentGeneration = currentGeneration
        self.earlierSerials = earlierSerials
    }

    /// Whether the card was renewed since the asked certificate was issued.
    public var renewed: Bool { currentSerial != askedSerial }
}

/// Certificate history (各証明書の履歴情報の提供): after renewals a verifier holding an old user
/// certificate learns the card's current one, so its binding to its customer survives the new
/// serial. Read from the `certificates` table alone (same card, application `auth`, highest
/// generation), whoever writes the renewals there. Who may ask is the caller's check (licensed
/// verifiers only).
extension CardAuthorityStore {
    /// Nil for a serial that is not a user certificate of this authority (a signature
    /// certificate's serial is nil too: the history is of user certificates).
    public func userCertificateHistory(userSerial: String) throws -> UserCertificateHistory? {
        try database.withLock { db in
            guard let row = try db.query("""
                SELECT a.serial, a.generation, c.serial, c.generation
                FROM certificates a JOIN certificates c ON c.card = a.card AND c.application = 'auth'
                WHERE a.serial = ? AND a.application = 'auth'
                ORDER BY c.generation DESC LIMIT 1
                """, [.text(userSerial.uppercased())]).first,
                let asked = row.string(0), let askedGeneration = row.int(1),
                let current = row.string(2), let currentGeneration = row.int(3)
            else { return nil }
            let earlier = try db.query("""
                SELECT e.serial FROM certificates a JOIN certificates e ON e.card = a.card AND e.application = 'auth'
                WHERE a.serial = ? AND a.application = 'auth' AND e.generation < a.generation
                ORDER BY e.generation
                """, [.text(asked)]).compactMap { $0.string(0) }
            return UserCertificateHistory(askedSerial: asked, askedGeneration: Int(askedGeneration),
                                          currentSerial: current, currentGeneration: Int(currentGeneration), earlierSerials: earlier)
        }
    }
}
