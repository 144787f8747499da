import Foundation
import Testing

@testable import LinkcoreConfig

private let file = "/etc/linkcore/matcher.toml"
private let credentials = ["CREDENTIALS_DIRECTORY": "/run/credentials/linkcore-matcher.service"]

/// The minimal valid configuration: only the required keys.
private let minimal = """
    [tls]
    certificate = "/etc/linkcore/tls/matcher-server.crt"
    private_key = "/etc/linkcore/tls/matcher-server.key"
    ca_bundle = "/etc/linkcore/tls/ca.crt"

    [core]
    client_certificate = "/etc/linkcore/tls/matcher.crt"
    client_key = "/etc/linkcore/tls/matcher.key"
    """

private func load(_ text: String, environment: [String: String] = [:]) throws -> MatcherConfig {
    try MatcherConfig.parse(text: text, file: file, environment: environment)
}

private func loadError(_ text: String, environment: [String: String] = [:]) -> ConfigError? {
    do {
        _ = try MatcherConfig.parse(text: text, file: file, environment: environment)
        return nil
    } catch {
        return error
    }
}

/// `minimal` with `lines` added to `table` (a new table when it is not in `minimal`).
private func with(_ table: String, _ lines: String) -> String {
    if let range = minimal.range(of: "[\(table)]\n") {
        var text = minimal
        text.insert(contentsOf: lines + "\n", at: range.upperBound)
        return text
    }
    return minimal + "\n\n[\(table)]\n" + lines + "\n"
}

@Suite struct MatcherConfigTests {
    @Test func shippedSampleLoadsWithDefaults() throws {
        let path = repositoryRoot + "/etc/linkcore/matcher.toml"
        let config = try MatcherConfig.load(path: path, environment: credentials)
        let dir = repositoryRoot + "/etc/linkcore"
        #expect(config.file == path)
        #expect(config.registry.path == "/var/lib/linkcore-matcher/registry.sqlite")
        #expect(config.listen.addresses == [ListenAddress(host: "0.0.0.0", port: 7500, family: .ipv4)])
        #expect(config.tls.certificate == dir + "/tls/matcher-server.crt")
        #expect(config.tls.privateKey == "/run/credentials/linkcore-matcher.service/matcher-server.key")
        #expect(config.tls.caBundle == dir + "/tls/ca.crt")
        #expect(config.tls.crl == dir + "/tls/ca.crl")
        #expect(config.tls.requireCRL)
        #expect(config.core.crl == dir + "/tls/ca.crl")
        #expect(config.core.address == ListenAddress(host: "127.0.0.1", port: 7400, family: .ipv4))
        #expect(config.core.serverName == "127.0.0.1")
        #expect(config.core.clientCertificate == dir + "/tls/matcher.crt")
        #expect(config.core.clientKey == "/run/credentials/linkcore-matcher.service/matcher.key")
        #expect(config.core.caBundle == config.tls.caBundle)
        #expect(config.core.requestTimeout == .seconds(30))
        #expect(config.core.retryInterval == .seconds(1))
        #expect(config.matching.matchingNumberLifetime == .seconds(900))
        #expect(config.limits == MatcherConfig.Limits())
        #expect(config.shutdown.drainTimeout == .seconds(10))
        #expect(config.log.level == .info)
    }

    /// Every key of the schema appears in the shipped sample, so every key is documented there.
    @Test func everyKeyIsDocumentedInTheSample() throws {
        let text = try String(contentsOfFile: repositoryRoot + "/etc/linkcore/matcher.toml", encoding: .utf8)
        for (table, keys) in MatcherConfig.schema {
            #expect(text.contains("[\(table)]\n"), "[\(table)] is missing from the sample")
            for key in keys {
                #expect(text.contains("\n\(key) = ") || text.contains("\n#\(key) = "), "[\(table)] \(key) is not in the sample")
            }
        }
    }

    /// The local sample the README uses beside scripts/run.sh parses once @RUN@ is filled in.
    @Test func localSampleLoads() throws {
        let text = try String(contentsOfFile: repositoryRoot + "/etc/linkcore/matcher.local.toml", encoding: .utf8)
            .replacingOccurrences(of: "@RUN@", with: "/home/me/linkcore/run")
        let config = try MatcherConfig.parse(text: text, file: "/home/me/linkcore/run/matcher.toml", environment: [:])
        #expect(config.registry.path == "/home/me/linkcore/run/registry.sqlite")
        #expect(config.listen.addresses.map(\.description) == ["127.0.0.1:7500"])
        #expect(config.core.clientCertificate == "/home/me/linkcore/run/pki/orgs/MATCHER.pem")
        #expect(config.core.serverName == "127.0.0.1")
    }

    @Test func everyValueCanBeSet() throws {
        let config = try load("""
            [registry]
            path = "registry/residents.sqlite"
            [listen]
            addresses = ["127.0.0.1:7501", "[::1]:7501"]
            [tls]
            certificate = "a.crt"
            private_key = "credential:a.key"
            ca_bundle = "/ca.crt"
            crl = "ca.crl"
            handshake_timeout_ms = 500
            [core]
            address = "core.example.jp:7400"
            client_certificate = "m.crt"
            client_key = "m.key"
            ca_bundle = "core-ca.crt"
            request_timeout_ms = 2000
            retry_interval_ms = 50
            [matching]
            matching_number_lifetime_ms = 60000
            [limits]
            max_in_flight = 16
            [shutdown]
            drain_timeout_ms = 0
            [log]
            level = "debug"
            """, environment: credentials)
        #expect(config.registry.path == "/etc/linkcore/registry/residents.sqlite")
        #expect(config.listen.addresses.map(\.description) == ["127.0.0.1:7501", "[::1]:7501"])
        #expect(config.tls.privateKey == "/run/credentials/linkcore-matcher.service/a.key")
        #expect(config.tls.crl == "/etc/linkcore/ca.crl")
        #expect(config.tls.handshakeTimeout == .milliseconds(500))
        #expect(config.core.address.description == "core.example.jp:7400")
        #expect(config.core.serverName == "core.example.jp")
        #expect(config.core.caBundle == "/etc/linkcore/core-ca.crt")
        #expect(config.core.requestTimeout == .seconds(2))
        #expect(config.core.retryInterval == .milliseconds(50))
        #expect(config.matching.matchingNumberLifetime == .seconds(60))
        #expect(config.limits.maxInFlight == 16)
        #expect(config.shutdown.drainTimeout == .zero)
        #expect(config.log.level == .debug)
    }

    @Test func serverNameCanDifferFromTheAddress() throws {
        let config = try load(with("core", "address = \"10.0.0.5:7400\"\nserver_name = \"core-1.linkcore.internal\""))
        #expect(config.core.address.host == "10.0.0.5")
        #expect(config.core.serverName == "core-1.linkcore.internal")
    }

    // MARK: Errors: file, line, key, and what would be right

    @Test func unknownKeySuggestsTheRightOne() throws {
        let error = try #require(loadError(with("matching", "matching_number_lifetime = 60000")))
        #expect(error.kind == .unknownKey)
        #expect(error.line == 11)
        #expect(error.description.hasPrefix("/etc/linkcore/matcher.toml:11: [matching] matching_number_lifetime: unknown key"))
        #expect(error.description.contains("did you mean \"matching_number_lifetime_ms\"?"))
    }

    @Test func unknownTableSuggestsTheRightOne() throws {
        let error = try #require(loadError(minimal + "\n[registery]\npath = \"x\"\n"))
        #expect(error.kind == .unknownKey)
        #expect(error.keyPath == "[registery]")
        #expect(error.description.contains("did you mean \"registry\"?"))
    }

    @Test func daemonOnlyTablesAreRefused() throws {
        let error = try #require(loadError(minimal + "\n[keys]\nmaster_secret = \"x\"\n"))
        #expect(error.kind == .unknownKey)
        #expect(error.description.contains("valid tables are: registry, listen, tls, core, matching, limits, shutdown, log"))
    }

    @Test func missingClientCertificateIsNamed() throws {
        let error = try #require(loadError(minimal.replacingOccurrences(of: "client_certificate = \"/etc/linkcore/tls/matcher.crt\"\n", with: "")))
        #expect(error.kind == .missingRequired)
        #expect(error.keyPath == "[core] client_certificate")
        #expect(error.line == 6)
    }

    @Test func missingCoreTableSaysWhatToAdd() throws {
        let text = String(minimal[..<minimal.range(of: "\n\n[core]")!.lowerBound])
        let error = try #require(loadError(text))
        #expect(error.kind == .missingRequired)
        #expect(error.line == nil)
        #expect(error.message.contains("add a [core] table with client_certificate"))
    }

    @Test func lifetimeOutOfRange() throws {
        let error = try #require(loadError(with("matching", "matching_number_lifetime_ms = 10")))
        #expect(error.kind == .outOfRange)
        #expect(error.description == "/etc/linkcore/matcher.toml:11: [matching] matching_number_lifetime_ms: expected an integer between 1000 and 86400000, got 10")
    }

    @Test func badCoreAddresses() throws {
        let noPort = try #require(loadError(with("core", "address = \"core.example.jp\"")))
        #expect(noPort.kind == .invalidValue)
        #expect(noPort.keyPath == "[core] address")
        #expect(noPort.message.contains("missing port"))
        let portZero = try #require(loadError(with("core", "address = \"127.0.0.1:0\"")))
        #expect(portZero.message.contains("port 0 cannot be connected to"))
        let wrongType = try #require(loadError(with("core", "address = 7400")))
        #expect(wrongType.kind == .wrongType)
        let badName = try #require(loadError(with("core", "server_name = \"not a name\"")))
        #expect(badName.kind == .invalidValue)
        #expect(badName.keyPath == "[core] server_name")
    }

    @Test func anEmptyListenListIsRefused() throws {
        let error = try #require(loadError(with("listen", "addresses = []")))
        #expect(error.kind == .invalidValue)
        #expect(error.keyPath == "[listen] addresses")
    }

    @Test func sharedTablesKeepTheirRules() throws {
        let perOrg = try #require(loadError(with("limits", "max_connections = 10\nmax_connections_per_org = 11")))
        #expect(perOrg.kind == .outOfRange)
        #expect(perOrg.keyPath == "[limits] max_connections_per_org")
        let level = try #require(loadError(with("log", "level = \"verbose\"")))
        #expect(level.kind == .invalidValue)
        #expect(level.message.contains("\"trace\", \"debug\""))
        let withoutCredentials = minimal.replacingOccurrences(of: "\"/etc/linkcore/tls/matcher.key\"", with: "\"credential:matcher.key\"")
        let credential = try #require(loadError(withoutCredentials))
        #expect(credential.kind == .credential)
        #expect(credential.keyPath == "[core] client_key")
    }

    @Test func registryPathCannotBeACredential() throws {
        let error = try #require(loadError(with("registry", "path = \"credential:registry\""), environment: credentials))
        #expect(error.kind == .invalidValue)
        #expect(error.keyPath == "[registry] path")
    }

    @Test func syntaxErrorsCarryAColumn() throws {
        let error = try #require(loadError(with("log", "level = \"info")))
        #expect(error.kind == .syntax)
        #expect(error.line != nil && error.column != nil)
    }

    @Test func missingFileIsAnIOError() throws {
        do {
            _ = try MatcherConfig.load(path: "/nonexistent/matcher.toml")
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.kind == .io)
            #expect(error.description.hasPrefix("/nonexistent/matcher.toml: cannot open the configuration file"))
        }
    }
}
