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
}
