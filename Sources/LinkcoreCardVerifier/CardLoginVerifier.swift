import COpenSSL
import Foundation
import Synchronization

/// A login verified: the user certificate's serial (the service's stable handle on the holder
/// until renewal) and its end of validity.
public struct VerifiedLogin: Sendable, Equatable {
    public var serialHex: String
    public var notAfter: Date
    /// Where the "good" status came from (`login` only; nil from the status-less `verify`).
    public var status: CardStatusEvidence?
}

/// The service's side of the card login: issues challenges bound to `service`, then checks the
/// card's answer: challenge (own, unexpired, outstanding: each is accepted once), chain to the card
/// CA at `now`, validity, and the signature (RSA PKCS#1 v1.5 / SHA-256 by the certificate's key).
/// `login` adds the revocation status (`CardStatusChecker`: OCSP, CRL fallback, fail closed);
/// `verify` is everything but the status, for offline checks and benchmarks.
///
/// Outstanding challenges live in this instance's memory: several processes behind one service
/// each accept only the challenges they issued (docs/card.md).
public final class CardLoginVerifier: Sendable {
    public let service: String
    public let challengeLifetime: TimeInterval
    public let statusChecker: CardStatusChecker?
    private let caPEM: String
    /// Outstanding challenges: nonce hex → expiry. A challenge leaves on first use or on expiry.
    private let outstanding = Mutex<[String: Date]>([:])

    public init(service: String, cardCAPEM: String, challengeLifetime: TimeInterval = 120, statusChecker: CardStatusChecker? = nil) {
        self.service = service
        self.statusChecker = statusChecker
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

    /// A card login: the checks of `verify`, then the certificate's revocation status, and only
    /// then the challenge is consumed. Without a status checker it refuses (fail closed).
    public func login(challenge bytes: [UInt8], signature: [UInt8], certificatePEM: String,
                      now: Date = Date()) async throws(CardLoginError) -> VerifiedLogin {
        let (challenge, certificate) = try checkOffline(challenge: bytes, signature: signature, certificatePEM: certificatePEM, now: now)
        // A replayed or unknown challenge is refused before any status request goes out.
        guard isOutstanding(challenge, now: now) else { throw .unknownOrReplayedChallenge }
        guard let statusChecker else { throw .statusUnavailable("no revocation status source configured") }
        let evidence = try await statusChecker.check(certificate, issuer: try X509Box(pem: caPEM), now: now)
        try consume(challenge, now: now)
        return VerifiedLogin(serialHex: try certificate.serialHex(), notAfter: try certificate.notAfter(), status: evidence)
    }

    /// Everything but the revocation status: form, service, expiry, chain, role, signature, then
    /// the challenge is consumed.
    public func verify(challenge bytes: [UInt8], signature: [UInt8], certificatePEM: String,
                       now: Date = Date()) throws(CardLoginError) -> VerifiedLogin {
        let (challenge, certificate) = try checkOffline(challenge: bytes, signature: signature, certificatePEM: certificatePEM, now: now)
        try consume(challenge, now: now)
        return VerifiedLogin(serialHex: try certificate.serialHex(), notAfter: try certificate.notAfter())
    }

    private func checkOffline(challenge bytes: [UInt8], signature: [UInt8], certificatePEM: String,
                              now: Date) throws(CardLoginError) -> (CardChallenge, X509Box) {
        let challenge = try CardChallenge(bytes: bytes)
        guard challenge.service == service else { throw .otherService(challenge.service) }
        guard challenge.expiresAt > now else { throw .expiredChallenge }
        let certificate = try X509Box(pem: certificatePEM)
        try certificate.verifyChain(caPEM: caPEM, at: now)
        try certificate.checkLoginUsage()
        try certificate.verifySignature(signature, over: bytes)
        return (challenge, certificate)
    }

    private func isOutstanding(_ challenge: CardChallenge, now: Date) -> Bool {
        outstanding.withLock { table in table[Self.hex(challenge.nonce)].map { $0 > now } ?? false }
    }

    /// Consumed only once everything else holds, so a bad attempt cannot burn a good challenge.
    private func consume(_ challenge: CardChallenge, now: Date) throws(CardLoginError) {
        let fresh = outstanding.withLock { table in table.removeValue(forKey: Self.hex(challenge.nonce)).map { $0 > now } ?? false }
        guard fresh else { throw .unknownOrReplayedChallenge }
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}
