import Foundation
import LinkcoreCard
import LinkcoreCardVerifier
import Synchronization

/// What a page may hand the helper to sign: a login challenge (the user authentication key, 4-digit
/// PIN), or a link consent (the signature key: the signature PIN is the holder's consent), which a
/// portal's account opening asks for (docs/portal.md). Read with the services' own parsers, so the
/// PIN page shows who asks, for what and until when.
enum HelperAsk: Sendable {
    case login(CardChallenge)
    case consent(CardLinkConsent)

    /// The service a login is for, or the organisation a consent lets obtain a link.
    var service: String {
        switch self {
        case .login(let challenge): challenge.service
        case .consent(let consent): consent.requester
        }
    }

    var expiresAt: Date {
        switch self {
        case .login(let challenge): challenge.expiresAt
        case .consent(let consent): consent.expiresAt
        }
    }

    var bytes: [UInt8] {
        switch self {
        case .login(let challenge): challenge.bytes
        case .consent(let consent): consent.bytes
        }
    }

    var application: CardApplication {
        switch self {
        case .login: .authentication
        case .consent: .signature
        }
    }
}

/// One login the browser helper was asked for: the origin that asked, the challenge, and the
/// secret embedded in its PIN page (the PIN form must carry it: a page elsewhere cannot read it).
struct HelperRequest: Sendable {
    enum State: Sendable, Equatable {
        case pending
        /// The PIN form was submitted and the card is signing: a second submission waits its turn out.
        case signing
        case signed(certificatePEM: String, signatureHex: String)
        case refused(String)
    }

    let id: String
    let origin: String
    let challenge: HelperAsk
    let secret: String
    /// The challenge's expiry, but at most `HelperRequests.maxLifetime` after the request: a page
    /// cannot park requests for a challenge valid for years and so fill the pending slots.
    let expiresAt: Date
    var state: State

    func isExpired(now: Date) -> Bool { expiresAt <= now }
}

/// The helper's own refusals, each with a code word and an HTTP status.
enum HelperError: Error, Equatable, CustomStringConvertible {
    case wrongHost(String?)
    case originNotAllowed(String?)
    case otherService(origin: String, service: String)
    case badRequest(String)
    case notALoginChallenge
    case expired
    case tooManyRequests(Int)
    case unknownRequest
    case csrf
    case alreadyAnswered
    case bodyTooLarge(Int)
    case notFound
    case methodNotAllowed

    var code: String {
        switch self {
        case .wrongHost: "wrong-host"
        case .originNotAllowed: "origin-not-allowed"
        case .otherService: "other-service"
        case .badRequest: "bad-request"
        case .notALoginChallenge: "not-a-login-challenge"
        case .expired: "expired"
        case .tooManyRequests: "too-many-requests"
        case .unknownRequest: "unknown-request"
        case .csrf: "csrf"
        case .alreadyAnswered: "already-answered"
        case .bodyTooLarge: "body-too-large"
        case .notFound: "not-found"
        case .methodNotAllowed: "method-not-allowed"
        }
    }

    var status: Int {
        switch self {
        case .wrongHost, .originNotAllowed, .otherService, .csrf: 403
        case .badRequest: 400
        case .notALoginChallenge: 422
        case .expired: 410
        case .tooManyRequests: 429
        case .unknownRequest, .notFound: 404
        case .alreadyAnswered: 409
        case .bodyTooLarge: 413
        case .methodNotAllowed: 405
        }
    }

    var description: String {
        switch self {
        case .wrongHost(let host): "the Host header (\(host ?? "none")) is not this helper's loopback address"
        case .originNotAllowed(let origin): "origin \(origin ?? "(none)") is not on this helper's allow-list"
        case .otherService(let origin, let service): "\(origin) may only ask for its own service's logins, not \(service)"
        case .badRequest(let why): why
        case .notALoginChallenge: "not a linkcore-card-challenge/v1 login challenge or a linkcore-card-link-consent/v1 consent"
        case .expired: "the challenge has expired"
        case .tooManyRequests(let limit): "\(limit) requests are already waiting for a PIN; finish or let them expire"
        case .unknownRequest: "no such request (never made, or expired and forgotten)"
        case .csrf: "the form does not carry this request's secret"
        case .alreadyAnswered: "this request was already answered"
        case .bodyTooLarge(let limit): "request body above \(limit) bytes"
        case .notFound: "no such path"
        case .methodNotAllowed: "method not allowed on this path"
        }
    }
}

/// The requests waiting for (or answered with) a PIN, in memory. Bounded: at most `maxPending`
/// wait at once (a page cannot pile up PIN windows), and every request is forgotten `keep`
/// seconds after its challenge expires (long enough for the page to learn it expired).
final class HelperRequests: Sendable {
    let maxPending: Int
    let keep: TimeInterval
    static let maxLifetime: TimeInterval = 600
    private let table = Mutex<[String: HelperRequest]>([:])

    init(maxPending: Int, keep: TimeInterval = 60) {
        self.maxPending = maxPending
        self.keep = keep
    }

    func create(origin: String, challenge: HelperAsk, now: Date = Date()) throws(HelperError) -> HelperRequest {
        let request = HelperRequest(id: Self.random(16), origin: origin, challenge: challenge, secret: Self.random(32),
                                    expiresAt: min(challenge.expiresAt, now.addingTimeInterval(Self.maxLifetime)), state: .pending)
        return try table.withLock { table throws(HelperError) -> HelperRequest in
            table = table.filter { $0.value.expiresAt.addingTimeInterval(keep) > now }
            let waiting = table.values.filter { !$0.isExpired(now: now) && ($0.state == .pending || $0.state == .signing) }.count
            // Answered ones count too, loosely: the table itself stays bounded.
            guard waiting < maxPending, table.count < maxPending * 4 else { throw .tooManyRequests(maxPending) }
            table[request.id] = request
            return request
        }
    }

    func get(_ id: String) -> HelperRequest? { table.withLock { $0[id] } }

    /// The PIN form for `id` arrived with `secret`: the request moves to `.signing`, so it is
    /// answered once even if the form is sent twice at the same moment.
    func beginSigning(_ id: String, secret: String?, now: Date = Date()) throws(HelperError) -> HelperRequest {
        try table.withLock { table throws(HelperError) -> HelperRequest in
            guard var request = table[id] else { throw .unknownRequest }
            guard let secret, Self.equal(secret, request.secret) else { throw .csrf }
            guard request.state == .pending else { throw .alreadyAnswered }
            guard !request.isExpired(now: now) else { throw .expired }
            request.state = .signing
            table[id] = request
            return request
        }
    }

    /// Ends the signing: `state` (signed or refused), or back to `.pending` (nil) so the holder can retry.
    func finish(_ id: String, _ state: HelperRequest.State?) {
        table.withLock { table in table[id]?.state = state ?? .pending }
    }

    static func random(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Compares without stopping at the first difference (the secret is not guessable by timing).
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
