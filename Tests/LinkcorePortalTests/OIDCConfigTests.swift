import Foundation
import LinkcoreConfig
import Testing

/// `[oidc]` and `[[oidc.client]]` (docs/portal.md, "Sign in to other services").
@Suite struct OIDCConfigTests {
    static let base = "[https]\ncertificate = \"/c\"\nprivate_key = \"/k\"\n[core]\ncertificate = \"/c\"\nprivate_key = \"/k\"\nca_bundle = \"/ca\"\n"
    static let oidc = "[oidc]\nissuer = \"https://portal.example\"\nsigning_key = \"/k.pem\"\nsubject_key = \"/s.key\"\n"
    static let hash = String(repeating: "ab", count: 32)
    static let client = "[[oidc.client]]\nclient_id = \"city\"\nclient_secret_sha256 = \"\(hash)\"\nredirect_uris = [\"https://rp.example/cb\"]\nname = \"市\"\n"

    func parse(_ text: String) throws -> PortalConfig { try PortalConfig.parse(text: Self.base + text, file: "/etc/portal.toml") }
    func error(_ text: String) -> String {
        do { _ = try parse(text); return "" } catch { return "\(error)" }
    }

    @Test func clientsParseWithTheirDefaults() throws {
        #expect(try parse("").oidc == nil)
        let config = try #require(try parse(Self.oidc + Self.client + "org_code = \"CITY01\"\n"
            + "[[oidc.client]]\nclient_id = \"shop\"\nclient_secret_sha256 = \"\(Self.hash)\"\nredirect_uris = [\"http://127.0.0.1:8600/cb\"]\nname = \"店\"\nname_en = \"Shop\"\n").oidc)
        #expect(config.issuer == "https://portal.example")
        #expect(config.codeLifetime == .seconds(60) && config.tokenLifetime == .seconds(300))
        #expect(config.clients.map(\.clientID) == ["city", "shop"])
        #expect(config.clients[0].orgCode == "CITY01" && config.clients[1].orgCode == nil)
        #expect(config.clients[0].secretSHA256 == Array(repeating: 0xAB, count: 32))
        #expect(config.clients[1].nameEnglish == "Shop" && config.clients[1].scopes == ["openid"])
    }

    @Test func mistakesNameTheirKey() {
        #expect(error("[oidc]\nissuer = \"http://portal.example\"\nsigning_key = \"/k\"\nsubject_key = \"/s\"\n").contains("issuer"))
        #expect(error("[oidc]\nissuer = \"https://portal.example/\"\nsigning_key = \"/k\"\nsubject_key = \"/s\"\n").contains("issuer"))
        #expect(error("[oidc]\nissuer = \"https://portal.example\"\nsubject_key = \"/s\"\n").contains("signing_key"))
        #expect(error(Self.oidc + Self.client.replacingOccurrences(of: "https://rp.example/cb", with: "http://rp.example/cb")).contains("redirect_uris"))
        #expect(error(Self.oidc + Self.client.replacingOccurrences(of: Self.hash, with: "secret")).contains("client_secret_sha256"))
        #expect(error(Self.oidc + Self.client + Self.client).contains("registered twice"))
        #expect(error(Self.oidc + Self.client + "scopes = [\"openid\", \"profile\"]\n").contains("scopes"))
        #expect(error(Self.oidc + Self.client + "secret = \"x\"\n").contains("secret"))
        #expect(error(Self.oidc + Self.client).isEmpty)
    }
}
