import Foundation
import LinkcoreSQLite

/// The OpenID Connect provider's durable state: authorization codes and the access tokens
/// issued for them, each stored only as its SHA-256 (a copy of the file redeems nothing).
extension PortalStore {
    /// Appended to `PortalStore.migrations` (never edit a shipped one).
    static let oidcMigration = """
        -- The OIDC provider (issue 15 item 6). A code is redeemed once: redeemed_at_ms is set in
        -- the same write that issues its token, and a second redemption revokes that token
        -- (RFC 6749 §4.1.2). subject is what the relying party receives as sub.
        CREATE TABLE oidc_codes (
            code_hash BLOB PRIMARY KEY,
            client_id TEXT NOT NULL,
            redirect_uri TEXT NOT NULL,
            code_challenge TEXT NOT NULL,       -- PKCE S256: BASE64URL(SHA-256(verifier))
            nonce TEXT,
            scope TEXT NOT NULL,
            subject TEXT NOT NULL,
            auth_time_ms INTEGER NOT NULL,      -- when the resident logged in to the portal
            created_at_ms INTEGER NOT NULL,
            expires_at_ms INTEGER NOT NULL,
            redeemed_at_ms INTEGER
        );
        CREATE INDEX oidc_codes_age ON oidc_codes(expires_at_ms);
        CREATE TABLE oidc_tokens (
            token_hash BLOB PRIMARY KEY,
            code_hash BLOB NOT NULL,
            client_id TEXT NOT NULL,
            subject TEXT NOT NULL,
            expires_at_ms INTEGER NOT NULL,
            revoked_at_ms INTEGER
        );
        CREATE INDEX oidc_tokens_code ON oidc_tokens(code_hash);
        """

    public struct AuthorizationCode: Sendable, Equatable {
        public var clientID: String
        public var redirectURI: String
        public var codeChallenge: String
        public var nonce: String?
        public var scope: String
        public var subject: String
        public var authTimeMs: Int64
        public var expiresAtMs: Int64
    }

    /// Stores a new code (durable before the redirect that carries it); forgets codes and
    /// tokens that are long over.
    func storeCode(hash: [UInt8], _ code: AuthorizationCode, nowMs: Int64, keepMs: Int64) async throws {
        try await queue.write { db in
            try db.query("DELETE FROM oidc_codes WHERE expires_at_ms < ?", [.integer(nowMs - keepMs)])
            try db.query("DELETE FROM oidc_tokens WHERE expires_at_ms < ?", [.integer(nowMs)])
            try db.query("""
                INSERT INTO oidc_codes (code_hash, client_id, redirect_uri, code_challenge, nonce, scope, subject, auth_time_ms,
                                        created_at_ms, expires_at_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.blob(hash), .text(code.clientID), .text(code.redirectURI), .text(code.codeChallenge),
                      code.nonce.map { .text($0) } ?? .null, .text(code.scope), .text(code.subject), .integer(code.authTimeMs),
                      .integer(nowMs), .integer(code.expiresAtMs)])
        }
    }

    public enum Redemption: Sendable, Equatable {
        /// Unknown, expired, another client's, or refused by the caller's check: all invalid_grant.
        case refused
        /// Redeemed before: what it issued is now revoked.
        case replayed(revokedTokens: Int)
        case redeemed(AuthorizationCode)
    }

    /// Redeems a code once, in one write: the client must be the code's; an already redeemed
    /// code revokes the tokens it issued; `accept` (redirect URI, PKCE) decides the rest; then the
    /// code is marked redeemed and the access token stored. A code that fails `accept` is burnt
    /// too, so an intercepted code cannot be tried with guessed verifiers.
    func redeemCode(hash: [UInt8], clientID: String, nowMs: Int64, tokenHash: [UInt8], tokenExpiresAtMs: Int64,
                    accept: @escaping @Sendable (AuthorizationCode) -> Bool) async throws -> Redemption {
        try await queue.write { db in
            guard let row = try db.query("""
                SELECT client_id, redirect_uri, code_challenge, nonce, scope, subject, auth_time_ms, expires_at_ms, redeemed_at_ms
                FROM oidc_codes WHERE code_hash = ?
                """, [.blob(hash)]).first,
                  let client = row.string(0), client == clientID else { return .refused }
            if row.int(8) != nil {
                try db.query("UPDATE oidc_tokens SET revoked_at_ms = ? WHERE code_hash = ? AND revoked_at_ms IS NULL",
                             [.integer(nowMs), .blob(hash)])
                return .replayed(revokedTokens: db.changes)
            }
            let code = AuthorizationCode(clientID: client, redirectURI: row.string(1) ?? "", codeChallenge: row.string(2) ?? "",
                                         nonce: row.string(3), scope: row.string(4) ?? "", subject: row.string(5) ?? "",
                                         authTimeMs: row.int(6) ?? 0, expiresAtMs: row.int(7) ?? 0)
            try db.query("UPDATE oidc_codes SET redeemed_at_ms = ? WHERE code_hash = ?", [.integer(nowMs), .blob(hash)])
            guard code.expiresAtMs > nowMs, accept(code) else { return .refused }
            try db.query("INSERT INTO oidc_tokens (token_hash, code_hash, client_id, subject, expires_at_ms) VALUES (?, ?, ?, ?, ?)",
                         [.blob(tokenHash), .blob(hash), .text(client), .text(code.subject), .integer(tokenExpiresAtMs)])
            return .redeemed(code)
        }
    }

    /// The subject and client of a live access token, or nil (unknown, expired, revoked).
    func tokenSubject(hash: [UInt8], nowMs: Int64) async throws -> (subject: String, clientID: String)? {
        try await queue.read { db in
            guard let row = try db.query("""
                SELECT subject, client_id FROM oidc_tokens WHERE token_hash = ? AND revoked_at_ms IS NULL AND expires_at_ms > ?
                """, [.blob(hash), .integer(nowMs)]).first,
                  let subject = row.string(0), let client = row.string(1) else { return nil }
            return (subject, client)
        }
    }
}
