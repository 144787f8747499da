import Foundation
import Testing

@testable import LinkcoreConfig

/// `[metrics] listen` reads the same in all three configurations: absent is off, a loopback
/// literal is taken, anything that could reach the network is refused naming the file, line and key.
@Suite struct MetricsConfigTests {
    private static let daemonBase = """
        [tls]
        certificate = "/etc/linkcore/tls/server.crt"
        private_key = "/etc/linkcore/tls/server.key"
        ca_bundle = "/etc/linkcore/tls/ca.crt"
        """
    private static let matcherBase = """
        [tls]
        certificate = "/etc/linkcore/tls/matcher-server.crt"
        private_key = "/etc/linkcore/tls/matcher-server.key"
        ca_bundle = "/etc/linkcore/tls/ca.crt"
        [core]
        client_certificate = "/etc/linkcore/tls/matcher.crt"
        client_key = "/etc/linkcore/tls/matcher.key"
        """
    private static let adapterBase = """
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

    /// The `[metrics]` settings each of the three loaders reads from `metrics` appended to its minimal file.
    private static func settings(_ metrics: String) throws -> [MetricsSettings] {
        [
            try DaemonConfig.parse(text: daemonBase + "\n" + metrics, file: "/etc/linkcore/linkcored.toml", environment: [:], hostname: "n").metrics,
            try MatcherConfig.parse(text: matcherBase + "\n" + metrics, file: "/etc/linkcore/matcher.toml", environment: [:]).metrics,
            try AdapterConfig.parse(text: adapterBase + "\n" + metrics, file: "/etc/linkcore/adapter.toml", environment: [:]).metrics,
        ]
    }

    private static func errors(_ metrics: String) -> [String] {
        var messages: [String] = []
        for parse in [
            { _ = try DaemonConfig.parse(text: daemonBase + "\n" + metrics, file: "/etc/linkcore/linkcored.toml", environment: [:], hostname: "n") },
            { _ = try MatcherConfig.parse(text: matcherBase + "\n" + metrics, file: "/etc/linkcore/matcher.toml", environment: [:]) },
            { _ = try AdapterConfig.parse(text: adapterBase + "\n" + metrics, file: "/etc/linkcore/adapter.toml", environment: [:]) },
        ] as [() throws -> Void] {
            do { try parse(); messages.append("accepted") } catch { messages.append("\(error)") }
        }
        return messages
    }

    @Test func absentMeansOff() throws {
        for settings in try Self.settings("") { #expect(settings.listen == nil) }
        for settings in try Self.settings("[metrics]\n") { #expect(settings.listen == nil) }
    }

    @Test func loopbackAddressesAreTaken() throws {
        for settings in try Self.settings("[metrics]\nlisten = \"127.0.0.1:9464\"") {
            #expect(settings.listen == ListenAddress(host: "127.0.0.1", port: 9464, family: .ipv4))
        }
        for settings in try Self.settings("[metrics]\nlisten = \"[::1]:9464\"") {
            #expect(settings.listen == ListenAddress(host: "::1", port: 9464, family: .ipv6))
        }
        // All of 127.0.0.0/8 is loopback; port 0 asks for an ephemeral port (tests).
        for settings in try Self.settings("[metrics]\nlisten = \"127.0.0.53:0\"") {
            #expect(settings.listen?.port == 0)
        }
    }

    @Test func nonLoopbackAddressesAreRefusedWithTheReason() {
        for address in ["0.0.0.0:9464", "192.168.1.10:9464", "[::]:9464", "[2001:db8::1]:9464", "localhost:9464", "metrics.example:9464"] {
            for (message, file) in zip(Self.errors("[metrics]\nlisten = \"\(address)\""), ["linkcored", "matcher", "adapter"]) {
                #expect(message.hasPrefix("/etc/linkcore/\(file).toml:"), "\(message)")
                #expect(message.contains("[metrics] listen"), "\(message)")
                #expect(message.contains("is not a loopback address"), "\(message)")
                #expect(message.contains("127.0.0.0/8 or [::1]"), "\(message)")
            }
        }
    }

    @Test func malformedValuesAreRefused() {
        for message in Self.errors("[metrics]\nlisten = 9464") {
            #expect(message.contains("[metrics] listen") && message.contains("expected a \"host:port\" string"), "\(message)")
        }
        for message in Self.errors("[metrics]\nlisten = \"127.0.0.1\"") {
            #expect(message.contains("[metrics] listen") && message.contains("missing port"), "\(message)")
        }
        for message in Self.errors("[metrics]\nlisen = \"127.0.0.1:9464\"") {
            #expect(message.contains("unknown key") && message.contains("did you mean \"listen\""), "\(message)")
        }
    }

    @Test func everySampleDocumentsTheTable() throws {
        for name in ["linkcored", "matcher", "adapter"] {
            let text = try String(contentsOfFile: repositoryRoot + "/etc/linkcore/\(name).toml", encoding: .utf8)
            #expect(text.contains("\n[metrics]\n") && text.contains("\n#listen = \"127.0.0.1:9464\"\n"), "\(name).toml")
        }
    }
}
