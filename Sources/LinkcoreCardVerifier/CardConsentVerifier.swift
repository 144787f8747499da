import Foundation

/// A certificate's revocation status, as a status check (OCSP, CRL) answers it.
public enum CardCertificateStatusAnswer: Sendable, Equatable {
    case good
    /// Revoked or on hold; the reason in words (e.g. "affiliationChanged"), never the new facts.
    case revoked(String)
    /// No fresh answer (responder unreachable, stale CRL): the verifier fails closed.
    case unavailable(String)
}

/// Where revocation status plugs into the consent check. The matcher wires `CardStatusChecker`
/// (OCSP, CRL fallback, fail closed: `CardStatusChecker+Consent.swift`), the login's own check.
public protocol CardCertificateStatusChecking: Sendable {
    func status(of certificate: CardCertificateIdentity, now: Date) async -> CardCertificateStatusAnswer
}

/// Checks no status: every certificate that passed the other checks counts as good (unit tests of
/// the other checks; never the matcher's choice).
public struct NoCardStatusCheck: CardCertificateStatusChecking {
    public init() {}
    public func status(of certificate: CardCertificateIdentity, now: Date) async -> CardCertificateStatusAnswer { .good }
}

/// A consent that passed every check: the facts to match and what identifies the consent.
public struct VerifiedCardConsent: Sendable, Equatable {
    public var consent: CardLinkConsent
    public var facts: CertifiedFacts
    public var certificate: CardCertificateIdentity
    public var notAfter: Date
}

/// Verifies a link consent signed on a number card (issue 14, links made by card): the consent
/// text (form, requester, expiry, freshness), the certificate (chain to the card CA at `now`,
/// validity, keyUsage nonRepudiation), the signature over the exact bytes, and the status hook;
/// then reads the four facts from the subject. The chain and signature checks are the login
/// verifier's own (`X509Box`), so both paths accept the same certificates and signatures.
///
/// Single use is the caller's: record `consent.nonceHex` durably and refuse a second use
/// (`.replayedConsent`) after a successful `verify`, so a refused attempt never burns a good consent.
public struct CardConsentVerifier: Sendable {
    public let cardCAPEM: String
    /// A consent may expire at most this far ahead of `now`: it must be fresh.
    public let maxConsentLifetime: TimeInterval
    public let statusCheck: any CardCertificateStatusChecking

    public init(cardCAPEM: String, maxConsentLifetime: TimeInterval = 600,
                statusCheck: any CardCertificateStatusChecking = NoCardStatusCheck()) {
        self.cardCAPEM = cardCAPEM
        self.maxConsentLifetime = maxConsentLifetime
        self.statusCheck = statusCheck
    }

    /// Whether `pem` holds a certificate this library can read (a configured card CA, checked at start).
    public static func isCertificate(_ pem: String) -> Bool { (try? X509Box(pem: pem)) != nil }

    public func verify(certificateDER: [UInt8], consent bytes: [UInt8], signature: [UInt8], requester: String,
                       now: Date = Date()) async throws(CardConsentError) -> VerifiedCardConsent {
        let consent = try CardLinkConsent(bytes: bytes)
        guard consent.requester == requester else { throw .otherRequester(consent.requester) }
        guard consent.expiresAt > now else { throw .expiredConsent }
        guard consent.expiresAt.timeIntervalSince(now) <= maxConsentLifetime else {
            throw .consentLifetimeTooLong(maximumSeconds: Int(maxConsentLifetime))
        }
        let (facts, identity, notAfter) = try checkCertificate(certificateDER, signature: signature, over: bytes, now: now)
        switch await statusCheck.status(of: identity, now: now) {
        case .good: break
        case .revoked(let reason): throw .certificateRevoked(reason)
        case .unavailable(let reason): throw .statusUnavailable(reason)
        }
        return VerifiedCardConsent(consent: consent, facts: facts, certificate: identity, notAfter: notAfter)
    }

    /// The synchronous part (OpenSSL objects stay inside): chain, validity, keyUsage, signature, facts.
    private func checkCertificate(_ der: [UInt8], signature: [UInt8], over bytes: [UInt8], now: Date) throws(CardConsentError)
        -> (CertifiedFacts, CardCertificateIdentity, Date)
    {
        let certificate = try Self.shared { () throws(CardLoginError) -> X509Box in
            let certificate = try X509Box(der: der)
            try certificate.verifyChain(caPEM: cardCAPEM, at: now)
            return certificate
        }
        // Before the signature: a user certificate is refused as such, whatever it signed.
        guard certificate.hasNonRepudiation else { throw .notSignatureCertificate }
        let (serial, notAfter) = try Self.shared { () throws(CardLoginError) -> (String, Date) in
            try certificate.verifySignature(signature, over: bytes)
            return (try certificate.serialHex(), try certificate.notAfter())
        }
        let identity = CardCertificateIdentity(serialHex: serial, der: try certificate.derBytes(), issuerPEM: cardCAPEM)
        return (try certificate.certifiedFacts(), identity, notAfter)
    }

    /// Runs checks shared with the login verifier, their refusals in consent terms.
    private static func shared<T>(_ body: () throws(CardLoginError) -> T) throws(CardConsentError) -> T {
        do throws(CardLoginError) {
            return try body()
        } catch {
            throw CardConsentError(error)
        }
    }
}
