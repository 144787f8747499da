import Foundation

/// The login's status check is also the link consent's (links made by card): the matcher asks
/// the same OCSP responder, with the same CRL fallback and the same freshness rules, so a
/// certificate the card authority revoked can neither log in nor make a link. Anything that is
/// not a fresh "good" or "revoked" is `.unavailable`: the consent fails closed.
extension CardStatusChecker: CardCertificateStatusChecking {
    public func status(of certificate: CardCertificateIdentity, now: Date) async -> CardCertificateStatusAnswer {
        do {
            let subject = try X509Box(der: certificate.der)
            let issuer = try X509Box(pem: certificate.issuerPEM)
            _ = try await check(subject, issuer: issuer, now: now)
            return .good
        } catch {
            switch error {
            case .revoked(let reason): return .revoked(RevocationReasonName.name(reason))
            case .suspended: return .revoked("certificateHold")
            default: return .unavailable(error.description)
            }
        }
    }
}

/// RFC 5280 CRLReason names, for a refusal's text (never the changed facts themselves).
enum RevocationReasonName {
    static func name(_ code: Int?) -> String {
        switch code {
        case 1?: "keyCompromise"
        case 2?: "cACompromise"
        case 3?: "affiliationChanged"
        case 4?: "superseded"
        case 5?: "cessationOfOperation"
        case 6?: "certificateHold"
        case 9?: "privilegeWithdrawn"
        default: "unspecified"
        }
    }
}
