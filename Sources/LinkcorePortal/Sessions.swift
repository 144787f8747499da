import Foundation
import LinkcoreCrypto

/// The portal's sessions: a random 256-bit id in a `__Host-` cookie, stored only as its keyed
/// SHA-256, with an idle and an absolute timeout and a CSRF token per session. The clock is
/// injected so that tests can move time without sleeping.
public final class Sessions: Sendable {
    public struct Timeouts: Sendable, Equatable {
        public var idle: Duration
        public var absolute: Duration
        public init(idle: Duration, absolute: Duration) { self.idle = idle; self.absolute = absolute }
    }

    /// A live session as the pages see it. `id` is the cookie's value (only ever in the cookie).
    public struct Session: Sendable, Equatable {
        public var id: String
        public var lpLinkCode: String?
        public var csrfToken: String
        public var createdAtMs: Int64
        public var isLoggedIn: Bool { lpLinkCode != nil }
    }

    /// Why a cookie did not name a live session. The pages treat each the same way (logged out);
    /// the reason is for logs and tests.
    public enum Refusal: Error, Sendable, Equatable {
        case malformed, unknown, idle, expired
    }

    public static let cookieName = "__Host-session"
    /// HMAC key for the stored hash: domain separation only (the ids are 256 random bits, so a
    /// plain hash would do; keying it means a hash of this table is useless anywhere else).
    static let hashKey = Array("linkcore-portal session id v1".utf8)

    let store: PortalStore
    public let timeouts: Timeouts
    let now: @Sendable () -> Date

    public init(store: PortalStore, timeouts: Timeouts, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.timeouts = timeouts
        self.now = now
    }

    var nowMs: Int64 { Int64((now().timeIntervalSince1970 * 1000).rounded()) }

    static func ms(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// A new session, durable before it is returned (so before any page sets its cookie).
    /// `lpLinkCode` nil: a visitor; the card login (a later slice) creates a new one with LP,
    /// never upgrades the visitor's (no session fixation).
    public func create(lpLinkCode: String? = nil) async throws -> Session {
        let id = try Self.randomToken()
        let csrf = try Self.randomToken()
        let now = nowMs
        try await store.insertSession(
            idHash: try Self.hash(id),
            row: .init(lpLinkCode: lpLinkCode, csrfToken: csrf, createdAtMs: now, lastSeenAtMs: now),
            expiredBeforeMs: now - Self.ms(timeouts.absolute), idleBeforeMs: now - Self.ms(timeouts.idle))
        return Session(id: id, lpLinkCode: lpLinkCode, csrfToken: csrf, createdAtMs: now)
    }

    /// The live session a cookie names; its idle timer restarts (durably). An expired session
    /// is deleted as it is found.
    public func resume(_ cookie: String) async throws -> Result<Session, Refusal> {
        guard Self.isWellFormed(cookie) else { return .failure(.malformed) }
        let idHash = try Self.hash(cookie)
        guard let row = try await store.session(idHash: idHash) else { return .failure(.unknown) }
        let now = nowMs
        if now - row.createdAtMs >= Self.ms(timeouts.absolute) {
            try await store.deleteSession(idHash: idHash)
            return .failure(.expired)
        }
        if now - row.lastSeenAtMs >= Self.ms(timeouts.idle) {
            try await store.deleteSession(idHash: idHash)
            return .failure(.idle)
        }
        try await store.touchSession(idHash: idHash, nowMs: now)
        return .success(Session(id: cookie, lpLinkCode: row.lpLinkCode, csrfToken: row.csrfToken, createdAtMs: row.createdAtMs))
    }

    public func end(_ session: Session) async throws {
        try await store.deleteSession(idHash: try Self.hash(session.id))
    }

    /// Whether a form's token is the session's, compared in constant time.
    public static func csrfMatches(_ sent: String?, _ session: Session) -> Bool {
        guard let sent else { return false }
        let a = Array(sent.utf8), b = Array(session.csrfToken.utf8)
        guard a.count == b.count, !a.isEmpty else { return false }
        return a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in
            Crypto.constantTimeEquals(pa.baseAddress, pb.baseAddress, count: a.count)
        } }
    }

    // MARK: Tokens

    /// 32 random bytes from OpenSSL's CSPRNG, base64url without padding (43 characters).
    static func randomToken() throws -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        let ok = bytes.withUnsafeMutableBytes { Crypto.randomBytes($0) }
        guard ok else { throw CryptoError.failed("RAND_bytes") }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func isWellFormed(_ token: String) -> Bool {
        token.utf8.count == 43 && token.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
        }
    }

    static func hash(_ id: String) throws -> [UInt8] {
        try hashKey.withUnsafeBytes { key in try HMACSHA256.authenticate(key: key, data: Array(id.utf8)) }
    }
}
