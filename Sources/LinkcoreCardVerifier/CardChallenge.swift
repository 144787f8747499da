import Foundation

/// What a service asks the card to sign at login: a random nonce bound to the service's identity
/// and an expiry. The card signs these exact bytes (UTF-8 text, one field a line), so the holder's
/// client can show which service asks before the PIN is entered.
public struct CardChallenge: Sendable, Equatable {
    static let header = "linkcore-card-challenge/v1"

    public var service: String
    public var expiresAt: Date
    public var nonce: [UInt8]

    public init(service: String, expiresAt: Date, nonce: [UInt8]) {
        self.service = service
        self.expiresAt = expiresAt
        self.nonce = nonce
    }

    public var bytes: [UInt8] {
        let nonceHex = nonce.map { String(format: "%02x", $0) }.joined()
        let expiry = Int64(expiresAt.timeIntervalSince1970.rounded(.down))
        return Array("\(Self.header)\nservice=\(service)\nexpires=\(expiry)\nnonce=\(nonceHex)\n".utf8)
    }

    /// Parses the signed bytes back; anything but the exact layout is `.malformedChallenge`.
    public init(bytes: [UInt8]) throws(CardLoginError) {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == 5, lines[0] == Self.header, lines[4].isEmpty,
              lines[1].hasPrefix("service="), lines[2].hasPrefix("expires="), lines[3].hasPrefix("nonce="),
              let expiry = Int64(lines[2].dropFirst("expires=".count)) else { throw .malformedChallenge }
        let nonceHex = Array(lines[3].dropFirst("nonce=".count).utf8)
        guard nonceHex.count == 64 else { throw .malformedChallenge }
        var nonce: [UInt8] = []
        for i in stride(from: 0, to: nonceHex.count, by: 2) {
            guard let byte = UInt8(String(decoding: nonceHex[i..<i + 2], as: UTF8.self), radix: 16) else { throw .malformedChallenge }
            nonce.append(byte)
        }
        self.init(service: String(lines[1].dropFirst("service=".count)), expiresAt: Date(timeIntervalSince1970: TimeInterval(expiry)), nonce: nonce)
        guard self.bytes == bytes else { throw .malformedChallenge }  // canonical form only
    }
}

/// Every refusal of a card login, as a value.
public enum CardLoginError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformedChallenge
    /// The challenge names another service: it was issued to someone else.
    case otherService(String)
    case expiredChallenge
    /// Not a challenge this verifier has outstanding: replayed, or never issued.
    case unknownOrReplayedChallenge
    case malformedCertificate
    /// The certificate does not chain to the card CA.
    case notFromCardCA(String)
    case certificateExpired
    case certificateNotYetValid
    /// The signature was not made by the certificate's key (another card, or altered bytes).
    case badSignature
    /// A signature certificate (keyUsage nonRepudiation, or no digitalSignature) presented for
    /// login: only the user certificate logs in; the signature key is the holder's consent.
    case signatureCertificate
    /// The card authority says the certificate is revoked (`reason`: RFC 5280 CRLReason code).
    case revoked(reason: Int?)
    /// Revoked with reason certificateHold: a suspended (lost) card.
    case suspended
    /// The status answer is too old (thisUpdate beyond the maximum age), from the future, or past
    /// its nextUpdate.
    case staleStatus
    /// The OCSP response's signature does not verify, or its signer is neither the card CA nor a
    /// delegated OCSP signer certified by it.
    case unsignedOrBadlySignedStatus
    /// The OCSP response answers for another certificate (serial or issuer).
    case statusForAnotherSerial
    /// The OCSP response's nonce is not the request's (a replayed answer), or it has none.
    case replayedStatus
    /// The responder does not know the certificate.
    case unknownStatus
    /// No status could be had: responder unreachable (or an unsigned error answer) and no fresh
    /// CRL signed by the card CA. Logins fail closed.
    case statusUnavailable(String)

    public var description: String {
        switch self {
        case .malformedChallenge: "the challenge is not in the linkcore-card-challenge/v1 form"
        case .otherService(let service): "the challenge was issued to another service (\(service))"
        case .expiredChallenge: "the challenge has expired"
        case .unknownOrReplayedChallenge: "the challenge was already used or never issued"
        case .malformedCertificate: "the certificate cannot be read"
        case .notFromCardCA(let reason): "the certificate is not from the card CA (\(reason))"
        case .certificateExpired: "the certificate has expired"
        case .certificateNotYetValid: "the certificate is not valid yet"
        case .badSignature: "the signature was not made by this certificate's key"
        case .signatureCertificate: "a signature certificate cannot be used to log in; present the user certificate"
        case .revoked(let reason): "the certificate is revoked" + (reason.map { " (reason \($0))" } ?? "")
        case .suspended: "the certificate is suspended (certificateHold)"
        case .staleStatus: "the certificate's status answer is not fresh"
        case .unsignedOrBadlySignedStatus: "the status answer is not signed by the card CA or its OCSP signer"
        case .statusForAnotherSerial: "the status answer is for another certificate"
        case .replayedStatus: "the status answer does not carry this request's nonce"
        case .unknownStatus: "the card authority does not know this certificate"
        case .statusUnavailable(let reason): "no certificate status available (\(reason))"
        }
    }
}
