import Foundation

/// What a resident signs, with the card's **signature** key after the signature PIN, to consent to
/// one organisation obtaining a link by card (issue 14, links made by card). UTF-8 text, one field
/// a line, like the login challenge, so the card client can show which organisation asks before
/// the PIN is entered:
///
///     linkcore-card-link-consent/v1
///     requester=<the requesting organisation's code>
///     expires=<unix seconds>
///     nonce=<64 lower-case hex digits: 32 random bytes>
///
/// Each line ends with `\n`; only this canonical form parses.
public struct CardLinkConsent: Sendable, Equatable {
    public static let header = "linkcore-card-link-consent/v1"

    public var requester: String
    public var expiresAt: Date
    public var nonce: [UInt8]

    public init(requester: String, expiresAt: Date, nonce: [UInt8]) {
        self.requester = requester
        self.expiresAt = expiresAt
        self.nonce = nonce
    }

    /// A new consent for `requester` with a random nonce, expiring `lifetime` seconds after `now`.
    public static func fresh(requester: String, lifetime: TimeInterval, now: Date = Date()) -> CardLinkConsent {
        var generator = SystemRandomNumberGenerator()
        let nonce = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        // Whole seconds, as the text carries them: a fresh consent equals its own parse.
        let expiry = now.addingTimeInterval(lifetime).timeIntervalSince1970.rounded(.down)
        return CardLinkConsent(requester: requester, expiresAt: Date(timeIntervalSince1970: expiry), nonce: nonce)
    }

    public var nonceHex: String { nonce.map { String(format: "%02x", $0) }.joined() }

    /// The exact bytes the card signs.
    public var bytes: [UInt8] {
        let expiry = Int64(expiresAt.timeIntervalSince1970.rounded(.down))
        return Array("\(Self.header)\nrequester=\(requester)\nexpires=\(expiry)\nnonce=\(nonceHex)\n".utf8)
    }

    /// Parses signed bytes back; anything but the canonical layout is `.malformedConsent`.
    public init(bytes: [UInt8]) throws(CardConsentError) {
        let text = String(decoding: bytes, as: UTF8.self)
        var fields: [String: Substring] = [:]
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == 5, lines[0] == Self.header, lines[4].isEmpty else { throw .malformedConsent }
        for (line, key) in zip(lines[1...3], ["requester", "expires", "nonce"]) {
            guard line.hasPrefix(key + "=") else { throw .malformedConsent }
            fields[key] = line.dropFirst(key.count + 1)
        }
        guard let requester = fields["requester"], !requester.isEmpty,
              let expiry = fields["expires"].flatMap({ Int64($0) }),
              let nonceHex = fields["nonce"], nonceHex.utf8.count == 64 else { throw .malformedConsent }
        var nonce: [UInt8] = []
        var digits = nonceHex.makeIterator()
        while let high = digits.next(), let low = digits.next() {
            guard let byte = UInt8(String([high, low]), radix: 16) else { throw .malformedConsent }
            nonce.append(byte)
        }
        self.init(requester: String(requester), expiresAt: Date(timeIntervalSince1970: TimeInterval(expiry)), nonce: nonce)
        // Canonical form only: one text, one signature (no "+5" expiry, no upper-case hex).
        guard self.bytes == bytes else { throw .malformedConsent }
    }
}

/// Every refusal of a link by card, as a value. The matcher maps each to its own wire error code
/// (protocol.md §12.1).
public enum CardConsentError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformedConsent
    /// The consent names another organisation: it was given to someone else.
    case otherRequester(String)
    case expiredConsent
    /// The consent's expiry is further ahead than the verifier accepts (a consent must be fresh).
    case consentLifetimeTooLong(maximumSeconds: Int)
    /// Already used: each consent makes one link request.
    case replayedConsent
    case malformedCertificate
    /// The certificate does not chain to the card CA.
    case notFromCardCA(String)
    case certificateExpired
    case certificateNotYetValid
    /// No keyUsage nonRepudiation: not a signature certificate (e.g. the card's user certificate).
    case notSignatureCertificate
    /// The signature was not made by the certificate's key over the consent (another card, altered bytes).
    case badSignature
    /// The status check (OCSP/CRL) says revoked or on hold.
    case certificateRevoked(String)
    /// The status check could not answer: fail closed.
    case statusUnavailable(String)
    /// A signature certificate from the card CA without one of the four facts in its subject.
    case missingFact(String)

    public var description: String {
        switch self {
        case .malformedConsent: "the consent is not in the \(CardLinkConsent.header) form"
        case .otherRequester(let requester): "the consent was given to another organisation (\(requester))"
        case .expiredConsent: "the consent has expired"
        case .consentLifetimeTooLong(let seconds): "the consent expires more than \(seconds) s ahead; ask for a fresh one"
        case .replayedConsent: "the consent was already used"
        case .malformedCertificate: "the certificate cannot be read"
        case .notFromCardCA(let reason): "the certificate is not from the card CA (\(reason))"
        case .certificateExpired: "the certificate has expired"
        case .certificateNotYetValid: "the certificate is not valid yet"
        case .notSignatureCertificate: "not a signature certificate (no keyUsage nonRepudiation): a user certificate cannot consent"
        case .badSignature: "the signature was not made by this certificate's key over the consent"
        case .certificateRevoked(let reason): "the certificate is revoked (\(reason))"
        case .statusUnavailable(let reason): "the certificate's status cannot be checked now (\(reason))"
        case .missingFact(let attribute): "the signature certificate's subject has no single \(attribute)"
        }
    }

    /// The login verifier's refusals of the shared chain and signature checks, in consent terms.
    init(_ login: CardLoginError) {
        switch login {
        case .malformedCertificate: self = .malformedCertificate
        case .notFromCardCA(let reason): self = .notFromCardCA(reason)
        case .certificateExpired: self = .certificateExpired
        case .certificateNotYetValid: self = .certificateNotYetValid
        case .badSignature: self = .badSignature
        // Challenge refusals (and any later login-only case): the consent path never reaches them.
        default: self = .malformedConsent
        }
    }
}
