import Foundation
import LinkcoreCard
import LinkcoreCardVerifier

/// What the bytes a holder is asked to sign mean, read with the services' own parsers
/// (`CardChallenge`, `CardLinkConsent`), so the client can say who asks and until when **before**
/// the PIN is read. `sign` and the browser helper both go through here.
enum SigningRequest {
    /// A login challenge (`linkcore-card-challenge/v1`): signed with the user authentication key.
    case login(CardChallenge)
    /// A link consent (`linkcore-card-link-consent/v1`): signed with the signature key.
    case consent(CardLinkConsent)
    /// Neither: bytes the client cannot show to the holder.
    case opaque

    init(bytes: [UInt8]) {
        if let challenge = try? CardChallenge(bytes: bytes) {
            self = .login(challenge)
        } else if let consent = try? CardLinkConsent(bytes: bytes) {
            self = .consent(consent)
        } else {
            self = .opaque
        }
    }

    /// The application these bytes are meant for (nil: opaque bytes, any).
    var application: CardApplication? {
        switch self {
        case .login: .authentication
        case .consent: .signature
        case .opaque: nil
        }
    }

    var expiresAt: Date? {
        switch self {
        case .login(let challenge): challenge.expiresAt
        case .consent(let consent): consent.expiresAt
        case .opaque: nil
        }
    }

    /// One line for the holder: who asks, until when (local time) and how long is left.
    func describe(now: Date = Date()) -> String {
        switch self {
        case .login(let challenge):
            "login to service \(challenge.service), valid until \(Self.localTime(challenge.expiresAt)) (\(Self.secondsLeft(challenge.expiresAt, now: now)))"
        case .consent(let consent):
            "consent to a link for \(consent.requester), valid until \(Self.localTime(consent.expiresAt)) (\(Self.secondsLeft(consent.expiresAt, now: now)))"
        case .opaque:
            "bytes that are neither a login challenge nor a link consent"
        }
    }

    /// Why the client refuses to sign these bytes with `app` (nil: it may go on to the PIN):
    /// expired, opaque, or meant for the other key. `raw` turns the checks off: the holder (or a
    /// tool building its own bytes, such as a test of the services' refusals) knowingly signs
    /// bytes as given.
    func refusal(app: CardApplication, raw: Bool, now: Date = Date()) -> SigningRefusal? {
        if raw { return nil }
        if let expiresAt, expiresAt <= now { return .expired(describe(now: now)) }
        switch application {
        case nil: return .unrecognised
        case .some(let meant) where meant != app: return .otherApplication(meant: meant, asked: app)
        default: return nil
        }
    }

    static func localTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone.current
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss zzz"
        return formatter.string(from: date)
    }

    static func secondsLeft(_ date: Date, now: Date) -> String {
        let left = Int(date.timeIntervalSince(now).rounded(.down))
        return left > 0 ? "\(left) s left" : "expired \(-left) s ago"
    }
}

/// The client's own refusals before any PIN is read; each has a code word and exit status.
enum SigningRefusal: Error, Equatable, CustomStringConvertible {
    case expired(String)
    case unrecognised
    case otherApplication(meant: CardApplication, asked: CardApplication)

    var code: String {
        switch self {
        case .expired: "expired"
        case .unrecognised: "unrecognised-bytes"
        case .otherApplication: "other-application"
        }
    }

    /// After the card's own statuses (3-8) and linkcore-jpki's 9.
    var exitStatus: Int32 {
        switch self {
        case .expired: 10
        case .unrecognised: 11
        case .otherApplication: 12
        }
    }

    var description: String {
        switch self {
        case .expired(let what): "refusing to sign an expired request: \(what)"
        case .unrecognised: "not a login challenge or a link consent; pass --raw to sign bytes this client cannot show you"
        case .otherApplication(let meant, let asked):
            "these bytes are for the \(meant.displayName) key, not the \(asked.displayName) key (--app \(meant.rawValue)); pass --raw to sign them anyway"
        }
    }
}
