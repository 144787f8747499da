import Foundation
import Testing

@testable import LinkcoreConfig

private let file = "/etc/linkcore/linkcored.toml"
private let credentials = ["CREDENTIALS_DIRECTORY": "/run/credentials/linkcored.service"]

/// The minimal valid configuration: only the required [tls] keys.
private let minimalTLS = """
    [tls]
    certificate = "/etc/linkcore/tls/server.crt"
    private_key = "/etc/linkcore/tls/server.key"
    ca_bundle = "/etc/linkcore/tls/ca.crt"
    """

private func load(_ text: String, environment: [String: String] = [:]) throws -> DaemonConfig {
    try DaemonConfig.parse(text: text, file: file, environment: environment, hostname: "node-a")
}

private func loadError(_ text: String, environment: [String: String] = [:], file: String = file) -> ConfigError? {
    do {
        _ = try DaemonConfig.parse(text: text, file: file, environment: environment, hostname: "node-a")
        return nil
    } catch {
        return error
    }
}

/// The checkout, for the shipped samples under etc/ (shared by this target's suites).
var repositoryRoot: String {
    // Tests/LinkcoreConfigTests/DaemonConfigTests.swift -> repository root
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}

@Suite struct DaemonConfigTests {
    // MARK: The shipped sample

    @Test func shippedSampleLoadsWithDefaults() throws {
        let path = repositoryRoot + "/etc/linkcore/linkcored.toml"
        let config = try DaemonConfig.load(path: path, environment: credentials)
        let dir = repositoryRoot + "/etc/linkcore"
        #expect(config.file == path)
        #expect(!config.core.id.isEmpty)
        #expect(config.core.stateDirectory == "/var/lib/linkcore")
        #expect(config.listen.addresses == [ListenAddress(host: "0.0.0.0", port: 7400, family: .ipv4)])
        #expect(config.listen.adminSocket == "/run/linkcore/admin.sock")
        #expect(config.tls.certificate == dir + "/tls/server.crt")
        #expect(config.tls.privateKey == "/run/credentials/linkcored.service/server.key")
        #expect(config.tls.caBundle == dir + "/tls/ca.crt")
        // Issue 12, finding 13: the production sample requires a CRL.
        #expect(config.tls.crl == dir + "/tls/ca.crl")
        #expect(config.tls.requireCRL)
        #expect(config.tls.crlWarnBefore == .seconds(259_200))
        #expect(config.tls.handshakeTimeout == .seconds(5))
        #expect(config.limits == DaemonConfig.Limits())
        #expect(config.limits.maxFrameBytes == 1_048_576)
        #expect(config.limits.idleTimeout == .seconds(120))
        #expect(config.shutdown.drainTimeout == .seconds(10))
        #expect(config.log.level == .info)
        #expect(config.store.engine == .sqlite)
        #expect(config.store.path == "/var/lib/linkcore/linkcore.sqlite")
        #expect(config.keys.masterSecret.source == .credential("master.key"))
    }

    /// Every key documented (commented out) in the sample is a valid key with the documented default.
    @Test func shippedSampleDocumentsEveryKeyWithItsDefault() throws {
        let path = repositoryRoot + "/etc/linkcore/linkcored.toml"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        // Uncomment "#key = value" lines (not prose comments), then the file must still load to the same values.
        let uncommented = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let s = String(line)
            if s.range(of: #"^#[a-z_]+ = "#, options: .regularExpression) != nil { return String(s.dropFirst()) }
            return s
        }.joined(separator: "\n")
        let documented = try DaemonConfig.parse(text: uncommented, file: path, environment: credentials, hostname: "core-1")
        let defaults = try DaemonConfig.parse(text: text, file: path, environment: credentials, hostname: "core-1")
        var expected = defaults
        expected.tls.crl = repositoryRoot + "/etc/linkcore/tls/ca.crl"
        // [metrics] is off by default; the sample shows the conventional loopback address to turn it on.
        expected.metrics.listen = ListenAddress(host: "127.0.0.1", port: 9464, family: .ipv4)
        #expect(documented == expected)
        var documentedKeys: [String: Set<String>] = [:]
        var table = ""
        for line in uncommented.split(separator: "\n") {
            if line.hasPrefix("[") { table = String(line.dropFirst().dropLast()) }
            if let eq = line.range(of: " = "), !line.hasPrefix("#") {
                documentedKeys[table, default: []].insert(String(line[..<eq.lowerBound]))
            }
        }
        for (name, keys) in DaemonConfig.schema {
            #expect(documentedKeys[name] == Set(keys), "sample does not document [\(name)] exactly")
        }
    }

    @Test func minimalConfigUsesDefaults() throws {
        let config = try load(minimalTLS)
        #expect(config.core.id == "node-a")
        #expect(config.keys.masterSecret.description == "credential:master.key")
        #expect(config.limits.maxInFlight == 256)
    }

    // MARK: Error classes: every message names file, line and key

    @Test func syntaxErrorHasLineAndColumn() {
        let error = loadError("[limits]\nmax_in_flight = \n")
        #expect(error?.kind == .syntax)
        #expect(error?.description == "\(file):2:17: expected a value after '=', found end of line")
    }

    @Test func duplicateKey() {
        let error = loadError(minimalTLS + "\n[limits]\nmax_in_flight = 1\nmax_in_flight = 2\n")
        #expect(error?.kind == .duplicateKey)
        #expect(error?.line == 7)
        #expect(error?.description == "\(file):7:1: duplicate key limits.max_in_flight (first defined at line 6)")
    }

    @Test func unknownKeyNamesValidKeysAndSuggests() {
        let error = loadError(minimalTLS + "\n[limits]\nmax_inflight = 3\n")
        #expect(error?.kind == .unknownKey)
        #expect(
            error?.description
                == "\(file):6: [limits] max_inflight: unknown key (did you mean \"max_in_flight\"?); valid keys in [limits] are: "
                + "max_connections, max_connections_per_org, max_in_flight, max_frame_bytes, frame_timeout_ms, "
                + "idle_timeout_ms, keepalive_ms, write_buffer_high_bytes, max_outbound_bytes, close_timeout_ms, "
                + "write_stall_timeout_ms, "
                + "max_connections_per_address, max_connections_awaiting_hello")
    }

    @Test func unknownTableAndTopLevelKey() {
        let table = loadError(minimalTLS + "\n[limts]\nmax_in_flight = 3\n")
        #expect(table?.kind == .unknownKey)
        #expect(table?.description.hasPrefix("\(file):5: [limts]: unknown table (did you mean \"limits\"?); valid tables are: core, listen,") == true)
        let key = loadError("level = \"info\"\n" + minimalTLS)
        #expect(key?.description.hasPrefix("\(file):1: level: unknown top-level key") == true)
    }

    @Test func wrongTypeMatchesTheDocumentedFormat() {
        let text = minimalTLS + "\n\n\n\n\n\n\n[limits]\nmax_in_flight = \"abc\"\n"
        let error = loadError(text, file: "linkcored.toml")
        #expect(error?.kind == .wrongType)
        #expect(error?.description == "linkcored.toml:12: [limits] max_in_flight: expected an integer between 1 and 65536, got \"abc\"")
    }

    @Test func wrongTypes() {
        #expect(loadError(minimalTLS + "\n[log]\nlevel = 3")?.description == "\(file):6: [log] level: expected one of \"trace\", \"debug\", \"info\", \"notice\", \"warning\", \"error\", \"critical\", got 3")
        #expect(loadError(minimalTLS + "\n[limits]\nkeepalive_ms = 1.5")?.description == "\(file):6: [limits] keepalive_ms: expected an integer between 1000 and 3600000, got 1.5")
        #expect(loadError(minimalTLS + "\n[listen]\naddresses = \"0.0.0.0:7400\"")?.kind == .wrongType)
        #expect(loadError(minimalTLS + "\n[listen]\naddresses = [7400]")?.description == "\(file):6: [listen] addresses: expected an array of \"host:port\" strings, got element 7400")
        #expect(loadError("core = 1\n" + minimalTLS)?.description == "\(file):1: core: expected a table ([core]), got an integer")
        #expect(loadError(minimalTLS.replacingOccurrences(of: "\"/etc/linkcore/tls/ca.crt\"", with: "true"))?.description == "\(file):4: [tls] ca_bundle: expected a path (string), got true")
    }

    @Test func outOfRange() throws {
        let error = loadError(minimalTLS + "\n[limits]\nmax_frame_bytes = 512\n")
        #expect(error?.kind == .outOfRange)
        #expect(error?.description == "\(file):6: [limits] max_frame_bytes: expected an integer between 1024 and 16777216, got 512")
        let perOrg = loadError(minimalTLS + "\n[limits]\nmax_connections = 10\nmax_connections_per_org = 20\n")
        #expect(perOrg?.kind == .outOfRange)
        #expect(perOrg?.description == "\(file):7: [limits] max_connections_per_org: 20 is more than max_connections (10); expected at most 10")
        #expect(loadError(minimalTLS + "\n[shutdown]\ndrain_timeout_ms = -1")?.kind == .outOfRange)
        // The idempotency window: a day by default, a minute to 30 days.
        #expect(try load(minimalTLS).mediation.idempotencyWindow == .seconds(86_400))
        #expect(try load(minimalTLS + "\n[mediation]\nidempotency_window_s = 3600\n").mediation.idempotencyWindow == .seconds(3600))
        #expect(loadError(minimalTLS + "\n[mediation]\nidempotency_window_s = 10\n")?.description
                == "\(file):6: [mediation] idempotency_window_s: expected an integer between 60 and 2592000, got 10")
    }

    @Test(arguments: [
        ("7400", "missing port"),
        ("0.0.0.0", "missing port"),
        ("::1:7400", "IPv6 addresses must be written in brackets"),
        ("[::1]", "missing \":port\""),
        ("[::g]:7400", "is not a valid IPv6 address"),
        ("[::1:7400", "missing ']'"),
        ("300.1.1.1:7400", "\"300.1.1.1\" is not a valid IPv4 address"),
        ("1.2.3:7400", "is not a valid IPv4 address"),
        ("host_name:7400", "is not a valid host name"),
        ("-bad.example:7400", "is not a valid host name"),
        ("*:7400", "use 0.0.0.0"),
        (":7400", "missing host"),
        ("0.0.0.0:", "missing port after ':'"),
        ("0.0.0.0:70000", "port \"70000\" is not a number between 1 and 65535"),
        ("0.0.0.0:http", "is not a number"),
        ("0.0.0.0:+80", "is not a number"),
    ])
    func badAddresses(address: String, reason: String) {
        let text = minimalTLS + "\n[listen]\naddresses = [\n  \"127.0.0.1:7400\",\n  \"\(address)\",\n]\n"
        let error = loadError(text)
        #expect(error?.kind == .invalidValue, "\(String(describing: error))")
        #expect(error?.line == 8, "\(String(describing: error))")
        #expect(error?.description.hasPrefix("\(file):8: [listen] addresses: bad address \"") == true, "\(String(describing: error))")
        #expect(error?.description.contains(reason) == true, "\(String(describing: error))")
    }

    @Test func goodAddresses() throws {
        let config = try load(
            minimalTLS + "\n[listen]\naddresses = [\"0.0.0.0:7400\", \"[::]:7400\", \"[::1]:7401\", \"localhost:7402\", \"127.0.0.1:0\"]")
        #expect(config.listen.addresses.map(\.description) == ["0.0.0.0:7400", "[::]:7400", "[::1]:7401", "localhost:7402", "127.0.0.1:0"])
        #expect(config.listen.addresses.map(\.family) == [.ipv4, .ipv6, .ipv6, .hostname, .ipv4])
        #expect(config.listen.addresses[2].host == "::1")
        #expect(try load(minimalTLS + "\n[listen]\naddresses = []").listen.addresses.isEmpty)
        // The same IPv6 address spelled differently is the same address.
        let duplicate = loadError(minimalTLS + "\n[listen]\naddresses = [\"[::1]:1\", \"[0:0::1]:1\"]")
        #expect(duplicate?.description == "\(file):6: [listen] addresses: \"[0:0::1]:1\" is listed twice")
        #expect(loadError(minimalTLS + "\n[listen]\naddresses = [\"[::1]:1\", \"[::1]:1\"]")?.message.contains("listed twice") == true)
    }

    @Test func missingRequired() {
        let noTable = loadError("[log]\nlevel = \"debug\"\n")
        #expect(noTable?.kind == .missingRequired)
        #expect(noTable?.description == "\(file): [tls] certificate: missing required key; add a [tls] table with certificate (a path or \"credential:NAME\")")
        let noKey = loadError("[log]\nlevel = \"debug\"\n[tls]\ncertificate = \"a\"\nca_bundle = \"b\"\n")
        #expect(noKey?.kind == .missingRequired)
        #expect(noKey?.description == "\(file):3: [tls] private_key: missing required key (a path or \"credential:NAME\")")
    }

    @Test func invalidValues() {
        #expect(loadError(minimalTLS + "\n[log]\nlevel = \"verbose\"")?.kind == .invalidValue)
        #expect(loadError(minimalTLS + "\n[store]\nengine = \"postgres\"")?.description == "\(file):6: [store] engine: expected one of \"sqlite\", \"postgresql\", got \"postgres\" (did you mean \"postgresql\"?)")
        #expect(loadError(minimalTLS + "\n[store]\nengine = \"postgresql\"\nconnection = \"credential:a/b\"")?.kind == .credential)
        #expect(loadError(minimalTLS + "\n[core]\nid = \"has space\"")?.description == "\(file):6: [core] id: expected 1 to 253 characters from A-Z a-z 0-9 . - _, got \"has space\"")
        #expect(loadError(minimalTLS + "\n[core]\nstate_directory = \"\"")?.message == "expected a path, got an empty string")
        let long = String(repeating: "x", count: 120)
        #expect(loadError(minimalTLS + "\n[listen]\nadmin_socket = \"/run/\(long)\"")?.message.contains("limited to 107") == true)
        #expect(loadError(minimalTLS + "\n[store]\npath = \"credential:db\"")?.message.contains("cannot be used for this path") == true)
    }

    /// Issue 16: PostgreSQL's connection string is named by a credential or a file, never written here.
    @Test func thePostgresqlEngineNamesItsConnectionFile() throws {
        let byDefault = try load(minimalTLS + "\n[store]\nengine = \"postgresql\"")
        #expect(byDefault.store.engine == .postgresql)
        #expect(byDefault.store.connection?.source == .credential("postgresql.conn"))
        #expect(byDefault.store.password == nil)
        let files = try load(minimalTLS + "\n[store]\nengine = \"postgresql\"\nconnection = \"/etc/linkcore/pg.conn\"\npassword = \"credential:pg.pw\"")
        #expect(files.store.connection?.source == .file("/etc/linkcore/pg.conn"))
        #expect(files.store.password?.source == .credential("pg.pw"))
    }

    // MARK: Paths

    @Test func relativePathsResolveAgainstTheConfigDirectory() throws {
        let config = try load(
            """
            [tls]
            certificate = "tls/server.crt"
            private_key = "./tls/../tls//server.key"
            ca_bundle = "../shared/ca.crt"
            crl = "/abs/ca.crl"
            [store]
            path = "data/db.sqlite"
            [keys]
            master_secret = "secrets/master.key"
            """)
        #expect(config.tls.certificate == "/etc/linkcore/tls/server.crt")
        #expect(config.tls.privateKey == "/etc/linkcore/tls/server.key")
        #expect(config.tls.caBundle == "/etc/shared/ca.crt")
        #expect(config.tls.crl == "/abs/ca.crl")
        #expect(config.store.path == "/etc/linkcore/data/db.sqlite")
        #expect(config.keys.masterSecret.source == .file("/etc/linkcore/secrets/master.key"))
        #expect(try config.keys.masterSecret.resolvePath(environment: [:]) == "/etc/linkcore/secrets/master.key")
    }

    @Test func relativeConfigFileResolvesAgainstTheWorkingDirectory() throws {
        let config = try DaemonConfig.parse(
            text: minimalTLS.replacingOccurrences(of: "\"/etc/linkcore/tls/server.crt\"", with: "\"server.crt\""),
            file: "conf/linkcored.toml", environment: [:], hostname: "h")
        #expect(config.tls.certificate == FileManager.default.currentDirectoryPath + "/conf/server.crt")
    }

    @Test func credentialPaths() throws {
        let text = """
            [tls]
            certificate = "credential:server.crt"
            private_key = "credential:server.key"
            ca_bundle = "/etc/linkcore/tls/ca.crt"
            [keys]
            master_secret = "credential:master.key"
            """
        let config = try load(text, environment: credentials)
        #expect(config.tls.certificate == "/run/credentials/linkcored.service/server.crt")
        #expect(config.tls.privateKey == "/run/credentials/linkcored.service/server.key")
        #expect(config.keys.masterSecret.source == .credential("master.key"))
        #expect(try config.keys.masterSecret.resolvePath(environment: credentials) == "/run/credentials/linkcored.service/master.key")

        // Without $CREDENTIALS_DIRECTORY: an error naming the key, its line and the remedy.
        let error = loadError(text, environment: [:])
        #expect(error?.kind == .credential)
        #expect(error?.line == 2)
        #expect(error?.description.hasPrefix("\(file):2: [tls] certificate: \"credential:server.crt\" needs $CREDENTIALS_DIRECTORY, which is not set") == true)
        #expect(error?.message.contains("LoadCredential=server.crt:") == true)

        // master_secret is only resolved when needed.
        let lazy = try load(minimalTLS + "\n[keys]\nmaster_secret = \"credential:master.key\"\n", environment: [:])
        #expect(throws: ConfigError.self) { try lazy.keys.masterSecret.resolvePath(environment: [:]) }
        do {
            _ = try lazy.keys.masterSecret.resolvePath(environment: [:])
        } catch {
            #expect(error.description.hasPrefix("\(file):6: [keys] master_secret: \"credential:master.key\" needs $CREDENTIALS_DIRECTORY"))
        }
        // The default master_secret is a credential too; resolving it without systemd fails with no line.
        do {
            _ = try load(minimalTLS).keys.masterSecret.resolvePath(environment: [:])
            Issue.record("resolved without CREDENTIALS_DIRECTORY")
        } catch let error as ConfigError {
            #expect(error.kind == .credential && error.line == nil)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func badCredentialNames() {
        for name in ["", "../etc/shadow", "a/b", "."] {
            let error = loadError(
                minimalTLS.replacingOccurrences(of: "\"/etc/linkcore/tls/server.key\"", with: "\"credential:\(name)\""),
                environment: credentials)
            #expect(error?.kind == .credential, "\(name)")
            #expect(error?.line == 3, "\(name)")
            #expect(error?.message.contains("invalid credential name") == true, "\(name)")
        }
        #expect(loadError(minimalTLS + "\n[keys]\nmaster_secret = \"credential:a/b\"")?.kind == .credential)
    }

    @Test func stateDirectoryFromSystemdWins() throws {
        let config = try load(
            minimalTLS + "\n[core]\nstate_directory = \"/srv/linkcore\"\n",
            environment: ["STATE_DIRECTORY": "/var/lib/linkcore:/var/lib/other"])
        #expect(config.core.stateDirectory == "/var/lib/linkcore")
        #expect(config.store.path == "/var/lib/linkcore/linkcore.sqlite")
        let plain = try load(minimalTLS + "\n[core]\nstate_directory = \"state\"\n")
        #expect(plain.core.stateDirectory == "/etc/linkcore/state")
        #expect(plain.store.path == "/etc/linkcore/state/linkcore.sqlite")
    }

    @Test func everyValueIsRead() throws {
        let config = try load(
            """
            [core]
            id = "core-2.example"
            [listen]
            admin_socket = "/run/lc/admin.sock"
            [tls]
            certificate = "/c"
            private_key = "/k"
            ca_bundle = "/ca"
            handshake_timeout_ms = 2500
            [limits]
            max_connections = 100
            max_connections_per_org = 10
            max_in_flight = 65_536
            max_frame_bytes = 16777216
            frame_timeout_ms = 100
            idle_timeout_ms = 1000
            keepalive_ms = 3600000
            write_buffer_high_bytes = 4096
            [shutdown]
            drain_timeout_ms = 0
            [log]
            level = "trace"
            """)
        #expect(config.core.id == "core-2.example")
        #expect(config.listen.adminSocket == "/run/lc/admin.sock")
        #expect(config.tls.handshakeTimeout == .milliseconds(2500))
        #expect(
            config.limits
                == DaemonConfig.Limits(
                    maxConnections: 100, maxConnectionsPerOrg: 10, maxInFlight: 65536, maxFrameBytes: 16_777_216,
                    frameTimeout: .milliseconds(100), idleTimeout: .seconds(1), keepalive: .seconds(3600),
                    writeBufferHighBytes: 4096))
        #expect(config.shutdown.drainTimeout == .zero)
        #expect(config.log.level == .trace)
    }

    @Test func loadReportsIOErrors() {
        do {
            _ = try DaemonConfig.load(path: "/nonexistent/linkcored.toml", environment: [:])
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.kind == .io)
            #expect(error.description == "/nonexistent/linkcored.toml: cannot open the configuration file: No such file or directory")
        }
    }

    @Test func inlineTablesAreAcceptedAsSections() throws {
        let config = try load("limits = { max_in_flight = 8 }\n" + minimalTLS)
        #expect(config.limits.maxInFlight == 8)
    }
}
