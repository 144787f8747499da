import Foundation
import Testing

@testable import LinkcoreConfig

private let file = "/etc/linkcore/adapter.toml"

private let minimal = """
    [adapter]
    org_code = "BANK01"

    [core]
    certificate = "/etc/linkcore/tls/adapter.crt"
    private_key = "/etc/linkcore/tls/adapter.key"
    ca_bundle = "/etc/linkcore/tls/ca.crt"

    [backend]
    kind = "dataset"
    dataset = "answers.sqlite"
    """

private func loadError(_ text: String) -> ConfigError? {
    do {
        _ = try AdapterConfig.parse(text: text, file: file, environment: [:])
        return nil
    } catch {
        return error
    }
}

@Suite struct AdapterConfigTests {
    @Test func theMinimalConfigurationTakesTheDefaults() throws {
        let config = try AdapterConfig.parse(text: minimal, file: file, environment: [:])
        #expect(config.adapter.orgCode == "BANK01")
        #expect(config.adapter.database == "/var/lib/linkcore-adapter/adapter.sqlite")
        #expect(config.core.address.port == 7400)
        #expect(config.core.reconnectInitial == .milliseconds(500) && config.core.reconnectMax == .milliseconds(30_000))
        #expect(config.matcher == nil, "no [matcher]: this adapter requests no links")
        #expect(config.api.listen.host == "127.0.0.1" && config.api.listen.port == 8480)
        #expect(config.api.idleTimeout == .seconds(30) && config.api.requestTimeout == .seconds(120))
        #expect(config.backend.kind == .dataset && config.backend.dataset == "/etc/linkcore/answers.sqlite")
    }

    @Test func theCardTableIsOptionalAndValidated() throws {
        #expect(try AdapterConfig.parse(text: minimal, file: file, environment: [:]).card == nil)
        let card = try #require(try AdapterConfig.parse(
            text: minimal + "\n[card]\nca = \"card-ca.pem\"\nocsp_url = \"http://127.0.0.1:7700/\"\ncrl = \"/var/lib/card.crl\"\n",
            file: file, environment: [:]).card)
        #expect(card.ca == "/etc/linkcore/card-ca.pem" && card.ocspURL == "http://127.0.0.1:7700/" && card.crl == "/var/lib/card.crl")
        #expect(card.maxStatusAge == .seconds(300) && card.challengeLifetime == .seconds(120) && card.requireNonce)
        #expect(loadError(minimal + "\n[card]\nocsp_url = \"http://127.0.0.1:7700/\"\n")?.description.contains("[card] ca: missing required key") == true)
        #expect(loadError(minimal + "\n[card]\nca = \"c.pem\"\nocsp_url = \"ftp://x/\"\n")?.description
            .contains("expected the OCSP responder's http:// or https:// URL") == true)
        #expect(loadError(minimal + "\n[card]\nca = \"c.pem\"\nmax_status_age_ms = 10\n") != nil)
    }

    @Test func theShippedSampleIsValid() throws {
        let path = repositoryRoot + "/etc/linkcore/adapter.toml"
        let config = try AdapterConfig.load(path: path, environment: ["CREDENTIALS_DIRECTORY": "/run/credentials/linkcore-adapter.service"])
        #expect(config.backend.kind == .webhook)
        #expect(config.core.privateKey == "/run/credentials/linkcore-adapter.service/adapter.key")
    }

    @Test func errorsNameTheLineAndKey() {
        let typo = loadError(minimal.replacingOccurrences(of: "[core]\n", with: "[core]\nreconect_max_ms = 5\n"))
        #expect(typo?.description == "/etc/linkcore/adapter.toml:5: [core] reconect_max_ms: unknown key (did you mean \"reconnect_max_ms\"?); valid keys in [core] are: address, server_name, certificate, private_key, ca_bundle, crl, request_timeout_ms, reconnect_initial_ms, reconnect_max_ms")
        #expect(loadError(minimal.replacingOccurrences(of: "org_code = \"BANK01\"", with: "org_code = \"bank 01\""))?.line == 2)
        #expect(loadError(minimal.replacingOccurrences(of: "org_code = \"BANK01\"\n", with: ""))?.kind == .missingRequired)
        let backwards = loadError(minimal.replacingOccurrences(of: "[core]\n", with: "[core]\nreconnect_initial_ms = 900\nreconnect_max_ms = 100\n"))
        #expect(backwards?.kind == .invalidValue && backwards?.line == 6)
        #expect(loadError(minimal + "\nurl = \"http://x\"\n")?.keyPath == "[backend] url")
        let webhook = minimal.replacingOccurrences(of: "kind = \"dataset\"\ndataset = \"answers.sqlite\"", with: "kind = \"webhook\"\nurl = \"ftp://x\"")
        #expect(loadError(webhook)?.keyPath == "[backend] url")
        #expect(loadError(minimal.replacingOccurrences(of: "kind = \"dataset\"", with: "kind = \"database\""))?.kind == .invalidValue)
        #expect(loadError(minimal + "\n[apii]\nlisten = \"127.0.0.1:1\"\n")?.message.contains("did you mean \"api\"") == true)
    }
}
