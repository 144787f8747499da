import Foundation
import Testing

@testable import LinkcoreConfig

/// `[card]` in matcher.toml: links made by card (issue 14).
@Suite struct MatcherCardConfigTests {
    static let required = """
        [tls]
        certificate = "tls/matcher-server.crt"
        private_key = "tls/matcher-server.key"
        ca_bundle = "tls/ca.crt"

        [core]
        client_certificate = "tls/matcher.crt"
        client_key = "tls/matcher.key"
        """

    @Test func offUnlessTheCardCAIsNamed() throws {
        let config = try MatcherConfig.parse(text: Self.required, file: "/etc/linkcore/matcher.toml", environment: [:])
        #expect(config.card == MatcherConfig.Card())
        #expect(config.card.caBundle == nil)
        #expect(config.card.maxConsentLifetime == .seconds(600))
    }

    @Test func theCardCAPathResolvesLikeEveryPathAndTheLifetimeIsBounded() throws {
        let config = try MatcherConfig.parse(
            text: Self.required + "\n\n[card]\nca_bundle = \"card/ca.pem\"\nmax_consent_lifetime_ms = 120000\n",
            file: "/etc/linkcore/matcher.toml", environment: [:])
        #expect(config.card.caBundle == "/etc/linkcore/card/ca.pem")
        #expect(config.card.maxConsentLifetime == .seconds(120))
        #expect(throws: ConfigError.self) {
            try MatcherConfig.parse(text: Self.required + "\n\n[card]\nmax_consent_lifetime_ms = 86400000\n",
                                    file: "/etc/linkcore/matcher.toml", environment: [:])
        }
    }

    @Test func theStatusSourcesAreReadAndABadResponderURLIsRefused() throws {
        let config = try MatcherConfig.parse(
            text: Self.required + "\n\n[card]\nca_bundle = \"card/ca.pem\"\nocsp_url = \"http://127.0.0.1:8600/\"\ncrl = \"card/crl.pem\"\nmax_status_age_ms = 60000\n",
            file: "/etc/linkcore/matcher.toml", environment: [:])
        #expect(config.card.ocspURL == "http://127.0.0.1:8600/")
        #expect(config.card.crl == "/etc/linkcore/card/crl.pem")
        #expect(config.card.maxStatusAge == .seconds(60))
        #expect(config.card.ocspTimeout == .seconds(5))
        #expect(throws: ConfigError.self) {
            try MatcherConfig.parse(text: Self.required + "\n\n[card]\nocsp_url = \"ftp://responder\"\n",
                                    file: "/etc/linkcore/matcher.toml", environment: [:])
        }
    }
}
