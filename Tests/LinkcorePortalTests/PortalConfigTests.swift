import Foundation
import LinkcoreConfig
import Testing

@Suite struct PortalConfigTests {
    static let sourceRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized.path

    @Test func theShippedSampleParsesWithItsDocumentedDefaults() throws {
        let config = try PortalConfig.load(path: Self.sourceRoot + "/etc/linkcore/portal.toml", environment: ["CREDENTIALS_DIRECTORY": "/run/credentials/x"])
        #expect(config.portal.orgCode == "PORTAL")
        #expect(config.https.listen.description == "127.0.0.1:8443")
        #expect(config.https.allowedHosts == ["127.0.0.1", "localhost"])
        #expect(config.https.privateKey == "/run/credentials/x/portal-https.key")
        #expect(config.session.idleTimeout == .seconds(900) && config.session.absoluteTimeout == .seconds(8 * 3600))
        #expect(config.core.reconnectInitial == .milliseconds(500))
    }

    @Test func mistakesNameTheirKey() {
        let base = "[https]\ncertificate = \"/c\"\nprivate_key = \"/k\"\n[core]\ncertificate = \"/c\"\nprivate_key = \"/k\"\nca_bundle = \"/ca\"\n"
        func error(_ extra: String) -> String {
            do { _ = try PortalConfig.parse(text: base + extra, file: "/etc/portal.toml"); return "" } catch { return "\(error)" }
        }
        #expect(error("[session]\nidle_timeout_ms = 60000\nabsolute_timeout_ms = 1000\n").contains("absolute_timeout_ms"))
        #expect(error("[https2]\n").contains("https2"))
        #expect(error("[portal]\norg_code = \"bad code\"\n").contains("org_code"))
        #expect(error("").isEmpty)
    }

    @Test func theCardLoginNeedsCardAndMatcherTables() throws {
        let base = "[https]\ncertificate = \"/c\"\nprivate_key = \"/k\"\n[core]\ncertificate = \"/c\"\nprivate_key = \"/k\"\nca_bundle = \"/ca\"\n"
        func error(_ extra: String) -> String {
            do { _ = try PortalConfig.parse(text: base + extra, file: "/etc/portal.toml"); return "" } catch { return "\(error)" }
        }
        // The shipped sample has it commented out: no card login.
        #expect(try PortalConfig.load(path: Self.sourceRoot + "/etc/linkcore/portal.toml", environment: ["CREDENTIALS_DIRECTORY": "/x"]).cardLogin == nil)
        let config = try PortalConfig.parse(text: base + "[card]\nca = \"/card-ca.pem\"\n[matcher]\naddress = \"127.0.0.1:7501\"\n", file: "/etc/portal.toml")
        let card = try #require(config.cardLogin)
        #expect(card.card.ca == "/card-ca.pem" && card.helperOrigin == "http://127.0.0.1:8765" && card.authority.description == "127.0.0.1:7600")
        #expect(card.matcher.address.port == 7501 && card.consentLifetime == .seconds(300))
        #expect(error("[card]\nca = \"/ca.pem\"\n").contains("[matcher]"))
        #expect(error("[matcher]\naddress = \"127.0.0.1:7500\"\n").contains("[card]"))
        #expect(error("[card]\nca = \"/ca.pem\"\nhelper_origin = \"http://evil.example:80\"\n[matcher]\n").contains("helper_origin"))
        #expect(error("[card]\nca = \"/ca.pem\"\nconsent_lifetime_ms = 3600000\n[matcher]\n").contains("consent_lifetime_ms"))
    }
}
