import Foundation
import LinkcoreShapes

extension PortalConfig {
    /// `[oidc]` and its `[[oidc.client]]` entries: the portal as an OpenID Connect provider for
    /// relying parties the operator registers (issue 15, item 6). No `[oidc]` table: no provider
    /// (its routes answer 404).
    public struct OIDC: Sendable, Equatable {
        /// The issuer identifier: the portal's public https origin, as relying parties reach it.
        public var issuer: String
        /// The ID-token signing key: a P-256 private key in PEM (ES256).
        public var signingKey: String
        /// A secret of at least 32 bytes (mode 0600) keying the opaque pairwise `sub` given to
        /// relying parties that are not network organisations.
        public var subjectKey: String
        public var codeLifetime: Duration
        public var tokenLifetime: Duration
        public var clients: [Client]
    }

    public struct Client: Sendable, Equatable {
        public var clientID: String
        /// SHA-256 of the client secret (32 bytes). Secrets are long random strings made by the
        /// operator (`openssl rand -base64 32`), so an unsalted hash is enough to make a copy of
        /// the config useless for logging in as the client.
        public var secretSHA256: [UInt8]
        /// Compared exactly (no prefix, no wildcard): https, or http on a loopback host (RFC 8252).
        public var redirectURIs: [String]
        /// The service's name on the consent page (Japanese), and in English if given.
        public var name: String
        public var nameEnglish: String?
        /// The relying party's network organisation code: then `sub` is its own link code.
        public var orgCode: String?
        public var scopes: [String]
    }

    static let oidcKeys = ["issuer", "signing_key", "subject_key", "code_lifetime_ms", "token_lifetime_ms", "client"]
    static let clientKeys = ["client_id", "client_secret_sha256", "redirect_uris", "name", "name_en", "org_code", "scopes"]
}

extension Section {
    func oidc() throws(ConfigError) -> PortalConfig.OIDC? {
        guard present else { return nil }
        let issuer = try string("issuer", default: "") { value in
            guard let url = URL(string: value), url.scheme == "https", url.host != nil, url.query == nil, url.fragment == nil,
                  !value.hasSuffix("/") else { return "expected the portal's https origin without a trailing slash, e.g. \"https://portal.example\"" }
            return nil
        }
        guard !issuer.isEmpty else { throw error(.missingRequired, "issuer", "missing required key (the portal's https origin)") }
        let signingKey = try requiredPath("signing_key")
        let subjectKey = try requiredPath("subject_key")
        let codeLifetime = try milliseconds("code_lifetime_ms", default: 60_000, range: 1_000...600_000)
        let tokenLifetime = try milliseconds("token_lifetime_ms", default: 300_000, range: 10_000...3_600_000)
        var clients: [PortalConfig.Client] = []
        if let item = table.item("client") {
            let expectation = "expected [[oidc.client]] tables"
            guard case .array(let elements) = item.value else { throw error(.wrongType, "client", "\(expectation), got \(item.value.literal)") }
            for element in elements {
                guard case .table(let t) = element.value else {
                    throw error(.wrongType, "client", "\(expectation), got \(element.value.literal)", line: element.position.line)
                }
                let entry = Section(name: "oidc.client", table: t, validKeys: PortalConfig.clientKeys, context: context)
                try entry.checkUnknownKeys()
                let client = try entry.oidcClient()
                if clients.contains(where: { $0.clientID == client.clientID }) {
                    throw entry.error(.invalidValue, "client_id", "client_id \(TOMLValue.quote(client.clientID)) is registered twice")
                }
                clients.append(client)
            }
        }
        return .init(issuer: issuer, signingKey: signingKey, subjectKey: subjectKey, codeLifetime: codeLifetime,
                     tokenLifetime: tokenLifetime, clients: clients)
    }

    func oidcClient() throws(ConfigError) -> PortalConfig.Client {
        for key in ["client_id", "client_secret_sha256", "redirect_uris", "name"] where table.item(key) == nil {
            throw error(.missingRequired, key, "missing required key")
        }
        let clientID = try string("client_id", default: "") { value in
            IdentifierShape.token.matches(value) ? nil : "expected a token of 1-64 characters [A-Za-z0-9._:-]"
        }
        let secretHex = try string("client_secret_sha256", default: "") { value in
            value.count == 64 && value.allSatisfy(\.isHexDigit)
                ? nil : "expected the secret's SHA-256 as 64 hex digits (printf %s SECRET | sha256sum)"
        }
        let secret = stride(from: 0, to: 64, by: 2).compactMap { i -> UInt8? in
            let start = secretHex.index(secretHex.startIndex, offsetBy: i)
            return UInt8(secretHex[start..<secretHex.index(start, offsetBy: 2)], radix: 16)
        }
        let redirects = try stringList("redirect_uris") { value in
            guard let url = URL(string: value), let host = url.host, url.fragment == nil else { return "expected an absolute URL without a fragment" }
            if url.scheme == "https" { return nil }
            if url.scheme == "http" && ["127.0.0.1", "localhost", "::1"].contains(host) { return nil }
            return "expected https (or http on a loopback host)"
        }
        guard !redirects.isEmpty else { throw error(.invalidValue, "redirect_uris", "name at least one redirect URI") }
        let name = try string("name", default: "") { $0.isEmpty || $0.utf8.count > 200 ? "expected 1-200 bytes" : nil }
        var nameEnglish: String?
        if table.item("name_en") != nil {
            nameEnglish = try string("name_en", default: "") { $0.isEmpty || $0.utf8.count > 200 ? "expected 1-200 bytes" : nil }
        }
        var orgCode: String?
        if table.item("org_code") != nil {
            orgCode = try string("org_code", default: "") { IdentifierShape.orgCode.matches($0) ? nil : "expected an organisation code" }
        }
        var scopes = ["openid"]
        if table.item("scopes") != nil {
            scopes = try stringList("scopes") { $0 == "openid" ? nil : "only \"openid\" is served" }
        }
        return .init(clientID: clientID, secretSHA256: secret, redirectURIs: redirects, name: name, nameEnglish: nameEnglish,
                     orgCode: orgCode, scopes: scopes)
    }

    func stringList(_ key: String, validate: (String) -> String?) throws(ConfigError) -> [String] {
        guard let item = table.item(key) else { return [] }
        guard case .array(let elements) = item.value else { throw error(.wrongType, key, "expected an array of strings, got \(item.value.literal)") }
        var values: [String] = []
        for element in elements {
            guard case .string(let s) = element.value else {
                throw error(.wrongType, key, "expected strings, got \(element.value.literal)", line: element.position.line)
            }
            if let problem = validate(s) { throw error(.invalidValue, key, "\(problem), got \(element.value.literal)", line: element.position.line) }
            values.append(s)
        }
        return values
    }
}
