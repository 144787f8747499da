import Foundation
import Testing

@testable import LinkcoreConfig

/// `[node]` (issue 16): one of several nodes on one PostgreSQL database.
@Suite struct NodeConfigTests {
    static let base = """
        [tls]
        certificate = "/etc/linkcore/tls/server.crt"
        private_key = "/etc/linkcore/tls/server.key"
        ca_bundle = "/etc/linkcore/tls/ca.crt"
        [store]
        engine = "postgresql"
        [node]
        name = "n1"
        listen = ["10.0.0.1:7410"]
        certificate = "/etc/linkcore/tls/node.pem"
        private_key = "credential:node.key"
        """
    static let environment = ["CREDENTIALS_DIRECTORY": "/run/credentials/linkcored.service"]

    func load(_ text: String) throws -> DaemonConfig {
        try DaemonConfig.parse(text: text, file: "/etc/linkcore/linkcored.toml", environment: Self.environment, hostname: "h")
    }

    @Test func aNodeOnPostgreSQL() throws {
        let node = try #require(try load(Self.base).node)
        #expect(node.name == "n1")
        #expect(node.listen == ListenAddress(host: "10.0.0.1", port: 7410, family: .ipv4))
        #expect(node.advertise == "10.0.0.1:7410")
        #expect(node.privateKey == "/run/credentials/linkcored.service/node.key")
        #expect(node.heartbeatInterval == .seconds(1) && node.lease == .seconds(5))
    }

    @Test func noNodeAloneOrOnSQLite() throws {
        #expect(try load(Self.base.replacingOccurrences(of: "engine = \"postgresql\"", with: "engine = \"sqlite\"")).node == nil)
        let withoutNode = String(Self.base[..<Self.base.range(of: "[node]")!.lowerBound])
        #expect(try load(withoutNode).node == nil)
    }

    @Test func badNodeSettingsAreExplained() {
        func problem(_ text: String) -> String {
            do { _ = try load(text); return "" } catch { return "\(error)" }
        }
        #expect(problem(Self.base.replacingOccurrences(of: "name = \"n1\"", with: "name = \"n 1\"")).contains("[node] name"))
        #expect(problem(Self.base + "\nheartbeat_ms = 3000\nlease_ms = 5000").contains("lease_ms"))
        #expect(problem(Self.base.replacingOccurrences(of: "certificate = \"/etc/linkcore/tls/node.pem\"\n", with: "")).contains("certificate"))
        #expect(problem(Self.base + "\nport = 1").contains("unknown key"))
    }
}
