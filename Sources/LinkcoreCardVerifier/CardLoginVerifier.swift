import COpenSSL
import Foundation
import Synchronization

/// A login verified: the user certificate's serial (the service's stable handle on the holder
/// until renewal) and its end of validity.
public struct VerifiedLogin: Sendable, Equatable {
    public var serialHex: String
    public var notAfter: Date
}

/// The service's side of the card login: issues challenges bound to `service`, then checks the
/// card's answer: challenge (own, unexpired, outstanding: each is accepted once), chain to the card
/// CA at `now`, validity, and the signature (RSA PKCS#1 v1.5 / SHA-256 by the certificate's key).
/// Revocation status (OCSP, CRL fallback) is still to come (docs/card.md).
public final class CardLoginVerifier: Sendable {
    public let service: String
    public let challengeLifetime: TimeInterval
    private let caPEM: String
    /// Outstanding challenges: nonce hex → expiry. A challenge leaves on first use or on expiry.
    private let outstanding = Mutex<[String: Date]>([:])

    public init(service: String, cardCAPEM: String, challengeLifetime: TimeInterval = 120) {
        self.service = service
        caPEM = cardCAPEM
        self.challengeLifetime = challengeLifetime
    }

    public func issueChallenge(now: Date = Date()) -> CardChallenge {
        var generator = SystemRandomNumberGenerator()
        let nonce = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let challenge = CardChallenge(service: service, expiresAt: now.addingTimeInterval(challengeLifetime), nonce: nonce)
        outstanding.withLock { table in
            table = table.filter { $0.value > now }
            table[Self.hex(nonce)] = challenge.expiresAt
        }
        return challenge
    }

    public func verify(challenge bytes: [UInt8], signature: [UInt8], certificatePEM: String,
                       now: Date = Date()) throws(CardLoginError) -> VerifiedLogin {
        let challenge = try CardChallenge(bytes: bytes)
        guard challenge.service == service else { throw .otherService(challenge.service) }
        guard challenge.expiresAt > now else { throw .expiredChallenge }
        let certificate = try X509Box(pem: certificatePEM)
        try certificate.verifyChain(caPEM: caPEM, at: now)
        try certificate.verifySignature(signature, over: bytes)
        // Consumed only once everything else holds, so a bad attempt cannot burn a good challenge.
        let fresh = outstanding.withLock { table in table.removeValue(forKey: Self.hex(challenge.nonce)).map { $0 > now } ?? false }
        guard fresh else { throw .unknownOrReplayedChallenge }
        return VerifiedLogin(serialHex: try certificate.serialHex(), notAfter: try certificate.notAfter())
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}
