import Foundation
import LinkcoreCrypto
import LinkcoreWire

/// The portal as an OpenID Connect provider (認証連携, issue 15 item 6): the authorization code
/// flow with PKCE S256 only, ES256 ID tokens, pairwise subjects. What is independent of HTTP
/// lives here (clients, subjects, codes, tokens, the signed ID token); the routes and pages are in
/// PortalSite+OIDC.swift.
public final class OIDCProvider: Sendable {
    public struct Client: Sendable, Equatable {
        public var clientID: String
        public var secretSHA256: [UInt8]
        public var redirectURIs: [String]
        public var name: String
        public var nameEnglish: String?
        /// A network organisation: `sub` is then its own link code for the resident, from the core.
        public var orgCode: String?
        public var scopes: [String]
        public init(clientID: String, secretSHA256: [UInt8], redirectURIs: [String], name: String, nameEnglish: String?,
                    orgCode: String?, scopes: [String]) {
            self.clientID = clientID; self.secretSHA256 = secretSHA256; self.redirectURIs = redirectURIs; self.name = name
            self.nameEnglish = nameEnglish; self.orgCode = orgCode; self.scopes = scopes
        }
    }

    public struct Settings: Sendable {
        public var issuer: String
        public var signingKeyPath: String
        public var subjectKeyPath: String
        public var codeLifetime: Duration
        public var tokenLifetime: Duration
        public var clients: [Client]
        public init(issuer: String, signingKeyPath: String, subjectKeyPath: String, codeLifetime: Duration, tokenLifetime: Duration,
                    clients: [Client]) {
            self.issuer = issuer; self.signingKeyPath = signingKeyPath; self.subjectKeyPath = subjectKeyPath
            self.codeLifetime = codeLifetime; self.tokenLifetime = tokenLifetime; self.clients = clients
        }
    }

    public enum SetupError: Error, CustomStringConvertible {
        case subjectKey(String)
        public var description: String { if case let .subjectKey(why) = self { why } else { "" } }
    }

    /// How the core is asked for a relying party's own link code: (LP, org code, client id) →
    /// its link code. Throws `WireError` with the core's refusal.
    public typealias ServiceLinker = @Sendable (_ lp: String, _ orgCode: String, _ clientID: String) async throws -> String

    let settings: Settings
    let clients: [String: Client]
    let key: ES256Key
    /// RFC 7638 thumbprint of the public key: the JWK's `kid`.
    let keyID: String
    let subjectKey: SecretBytes
    let store: PortalStore
    let linker: ServiceLinker
    let now: @Sendable () -> Date

    public init(settings: Settings, store: PortalStore, linker: @escaping ServiceLinker,
                now: @escaping @Sendable () -> Date = { Date() }) throws {
        self.settings = settings
        self.clients = Dictionary(settings.clients.map { ($0.clientID, $0) }, uniquingKeysWith: { first, _ in first })
        self.key = try ES256Key(path: settings.signingKeyPath)
        self.keyID = try Self.thumbprint(x: key.x, y: key.y)
        self.subjectKey = try Self.readSubjectKey(settings.subjectKeyPath)
        self.store = store
        self.linker = linker
        self.now = now
    }

    /// The opaque-subject key: a regular file of at least 32 bytes that only its owner may read.
    static func readSubjectKey(_ path: String) throws -> SecretBytes {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        if let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw SetupError.subjectKey("\(path) must not be readable by group or others (chmod 600)")
        }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        defer { Crypto.wipe(&bytes) }
        guard bytes.count >= 32 else { throw SetupError.subjectKey("\(path) must hold at least 32 bytes (openssl rand 32 > FILE)") }
        return try SecretBytes(copying: bytes)
    }

    var nowMs: Int64 { Int64((now().timeIntervalSince1970 * 1000).rounded()) }

    func client(_ id: String?) -> Client? { id.flatMap { clients[$0] } }

    // MARK: Documents

    var discovery: [String: Any] {
        let base = settings.issuer
        return [
            "issuer": base,
            "authorization_endpoint": base + "/oidc/authorize",
            "token_endpoint": base + "/oidc/token",
            "userinfo_endpoint": base + "/oidc/userinfo",
            "jwks_uri": base + "/oidc/jwks.json",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce"],
            "authorization_response_iss_parameter_supported": true,
            "ui_locales_supported": ["ja", "en"],
        ]
    }

    var jwks: [String: Any] {
        ["keys": [["kty": "EC", "crv": "P-256", "x": Base64URL.encode(key.x), "y": Base64URL.encode(key.y), "use": "sig", "alg": "ES256",
                   "kid": keyID]]]
    }

    static func thumbprint(x: [UInt8], y: [UInt8]) throws -> String {
        // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
        let canonical = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"\(Base64URL.encode(x))\",\"y\":\"\(Base64URL.encode(y))\"}"
        return Base64URL.encode(try SHA256Digest.hash(Array(canonical.utf8)))
    }

    // MARK: Subjects

    /// What the relying party receives as `sub`: its own link code when it is a network
    /// organisation (asked of the core now, with the consent just given), else an opaque value
    /// that differs per client and never is, nor reveals, LP.
    func subject(for client: Client, lp: String) async throws -> String {
        if let org = client.orgCode { return try await linker(lp, org, client.clientID) }
        let input = Array("linkcore-portal pairwise sub v1\u{0}\(client.clientID)\u{0}\(lp)".utf8)
        let mac = try subjectKey.withUnsafeBytes { key in try HMACSHA256.authenticate(key: key, data: input) }
        return "ps-" + Base64URL.encode(mac)
    }

    // MARK: Codes and tokens

    static func hash(_ secret: String) throws -> [UInt8] { try SHA256Digest.hash(Array(secret.utf8)) }

    /// A new code for a consented request, durable before the redirect carries it.
    func issueCode(client: Client, redirectURI: String, challenge: String, nonce: String?, scope: String, subject: String,
                   authTimeMs: Int64) async throws -> String {
        let code = try Sessions.randomToken()
        let at = nowMs
        try await store.storeCode(
            hash: try Self.hash(code),
            .init(clientID: client.clientID, redirectURI: redirectURI, codeChallenge: challenge, nonce: nonce, scope: scope,
                  subject: subject, authTimeMs: authTimeMs, expiresAtMs: at + Sessions.ms(settings.codeLifetime)),
            nowMs: at, keepMs: Sessions.ms(settings.tokenLifetime))
        return code
    }

    /// Whether the client authenticated with its secret (compared as hashes, in constant time).
    func authenticates(_ client: Client, secret: String) -> Bool {
        guard let sent = try? Self.hash(secret), sent.count == client.secretSHA256.count else { return false }
        return sent.withUnsafeBytes { a in client.secretSHA256.withUnsafeBytes { b in
            Crypto.constantTimeEquals(a.baseAddress, b.baseAddress, count: a.count)
        } }
    }

    public struct Tokens: Sendable {
        var accessToken: String
        var idToken: String
        var expiresIn: Int64
        var scope: String
    }

    public enum TokenFailure: Error, Equatable {
        case invalidGrant(String)
        case replayed(Int)
    }

    /// The token request's grant, once the client has authenticated.
    func redeem(client: Client, code: String, redirectURI: String, verifier: String) async throws -> Result<Tokens, TokenFailure> {
        guard Self.isVerifier(verifier) else { return .failure(.invalidGrant("code_verifier must be 43-128 unreserved characters")) }
        let computed = Base64URL.encode(try SHA256Digest.hash(Array(verifier.utf8)))
        let accessToken = try Sessions.randomToken()
        let at = nowMs
        let lifetime = Sessions.ms(settings.tokenLifetime)
        let result = try await store.redeemCode(
            hash: try Self.hash(code), clientID: client.clientID, nowMs: at, tokenHash: try Self.hash(accessToken),
            tokenExpiresAtMs: at + lifetime
        ) { stored in
            // Exact redirect URI of the authorization request; PKCE S256 (RFC 7636 §4.6).
            stored.redirectURI == redirectURI && Self.sameASCII(stored.codeChallenge, computed)
        }
        switch result {
        case .refused: return .failure(.invalidGrant("the code is unknown, expired, used, another client's, or its verifier or redirect_uri does not match"))
        case .replayed(let revoked): return .failure(.replayed(revoked))
        case .redeemed(let stored):
            let idToken = try idToken(client: client, stored: stored, atMs: at, lifetimeMs: lifetime)
            return .success(Tokens(accessToken: accessToken, idToken: idToken, expiresIn: lifetime / 1000, scope: stored.scope))
        }
    }

    func idToken(client: Client, stored: PortalStore.AuthorizationCode, atMs: Int64, lifetimeMs: Int64) throws -> String {
        var claims: [String: Any] = [
            "iss": settings.issuer, "aud": client.clientID, "azp": client.clientID, "sub": stored.subject,
            "iat": atMs / 1000, "exp": (atMs + lifetimeMs) / 1000, "auth_time": stored.authTimeMs / 1000,
        ]
        if let nonce = stored.nonce { claims["nonce"] = nonce }
        let header: [String: Any] = ["alg": "ES256", "typ": "JWT", "kid": keyID]
        let signingInput = Base64URL.encode(try Self.json(header)) + "." + Base64URL.encode(try Self.json(claims))
        let signature = try key.sign(Array(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(signature)
    }

    func userinfo(accessToken: String) async throws -> String? {
        try await store.tokenSubject(hash: try Self.hash(accessToken), nowMs: nowMs)?.subject
    }

    static func json(_ object: Any) throws -> [UInt8] {
        [UInt8](try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
    }

    /// RFC 7636 §4.1: 43-128 characters of [A-Za-z0-9-._~].
    static func isVerifier(_ s: String) -> Bool {
        (43...128).contains(s.utf8.count) && s.utf8.allSatisfy { Self.isUnreserved($0) }
    }

    /// A code_challenge for S256: BASE64URL of 32 bytes, 43 characters.
    static func isChallenge(_ s: String) -> Bool {
        s.utf8.count == 43 && s.utf8.allSatisfy { Self.isUnreserved($0) && $0 != 0x2E && $0 != 0x7E }
    }

    static func isUnreserved(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x2E || c == 0x5F || c == 0x7E
    }

    static func sameASCII(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count, !x.isEmpty else { return false }
        return x.withUnsafeBytes { p in y.withUnsafeBytes { q in Crypto.constantTimeEquals(p.baseAddress, q.baseAddress, count: x.count) } }
    }
}

/// base64url without padding (RFC 4648 §5), as JOSE and PKCE write it.
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> [UInt8]? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map { [UInt8]($0) }
    }
}
