import Foundation

/// Why a card certificate was revoked, with RFC 5280 CRLReason codes: the same reason goes into
/// the CRL entry and the OCSP answer, so both status channels tell a verifier the same thing.
public enum RevocationReason: Int, Sendable, Equatable, CaseIterable, Codable {
    case unspecified = 0
    case keyCompromise = 1
    /// The holder's registered facts changed (move, new name): the signature certificate no longer
    /// states them. The reason says only *that* something changed, never what.
    case affiliationChanged = 3
    /// Renewal: a new generation replaces the certificate.
    case superseded = 4
    /// The card ended (revoked card, death of the holder).
    case cessationOfOperation = 5
    /// A suspended (lost) card: reversible, released on resume.
    case certificateHold = 6
}

/// A card certificate's revocation status as the authority knows it at one instant.
public enum CertificateStatus: Sendable, Equatable {
    case good
    case revoked(at: Date, reason: RevocationReason)
    /// Not a certificate this authority issued.
    case unknown
}

/// Where the OCSP responder and the CRL publisher read status from. The card authority's store
/// is the source of truth; the protocol lets each status channel be tested on its own.
public protocol CertificateStatusSource: Sendable {
    /// `serialHex` is upper- or lower-case hex without separators.
    func status(serialHex: String) throws -> CertificateStatus
    /// Every certificate revoked or on hold now, for a full CRL.
    func revokedCertificates() throws -> [(serialHex: String, at: Date, reason: RevocationReason)]
}
