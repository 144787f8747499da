import Foundation
import Testing

@testable import LinkcoreConfig

/// `[core] address` as one "host:port" (as before) or a list of core nodes (issue 16, item 3).
@Suite struct CoreAddressesConfigTests {
    static let adapter = """
        [adapter]
        org_code = "BANK01"

        [core]
        ADDRESS
        certificate = "/etc/linkcore/tls/adapter.crt"
        private_key = "/etc/linkcore/tls/adapter.key"
        ca_bundle = "/etc/linkcore/tls/ca.crt"

        [backend]
        kind = "dataset"
        dataset = "answers.sqlite"
        """

    func parse(_ line: String) throws -> AdapterConfig {
        try AdapterConfig.parse(text: Self.adapter.replacingOccurrences(of: "ADDRESS", with: line), file: "/etc/a.toml", environment: [:])
    }

    func failure(_ line: String) -> ConfigError? {
        do { _ = try parse(line); return nil } catch { return error as? ConfigError }
    }

    @Test func coreAddressIsAStringOrAList() throws {
        let single = try parse("address = \"core1:7400\"")
        #expect(single.core.connectAddresses.map(\.host) == ["core1"] && single.core.addresses.count == 1)
        #expect(try parse("").core.connectAddresses.map(\.port) == [7400])
        let list = try parse("address = [\"core1:7400\", \"core2:7401\", \"[::1]:7402\"]")
        #expect(list.core.connectAddresses.map(\.port) == [7400, 7401, 7402])
        #expect(list.core.address.host == "core1" && list.core.serverName == "core1")

        // Mistakes name the key and what to write.
        #expect(failure("address = []")?.message.contains("at least one") == true)
        #expect(failure("address = [\"core1:7400\", \"core1:7400\"]")?.message.contains("listed twice") == true)
        #expect(failure("address = [\"core1:0\"]")?.message.contains("port 0") == true)
        #expect(failure("address = [7400]")?.kind == .wrongType)
        #expect(failure("address = [\"core1\"]")?.keyPath == "[core] address")
    }

    @Test func theMatcherAndThePortalTakeTheSameList() throws {
        let portal = """
            [https]
            certificate = "/etc/p.crt"
            private_key = "/etc/p.key"
            [core]
            address = ["n1:7400", "n2:7400"]
            certificate = "/etc/c.crt"
            private_key = "/etc/c.key"
            ca_bundle = "/etc/ca.crt"
            """
        let config = try PortalConfig.parse(text: portal, file: "/etc/portal.toml")
        #expect(config.core.connectAddresses.map(\.host) == ["n1", "n2"])
    }
}
