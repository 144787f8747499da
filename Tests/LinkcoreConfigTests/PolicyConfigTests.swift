import Testing

@testable import LinkcoreConfig

private let file = "/etc/linkcore/linkcored.toml"
private let tls = """
    [tls]
    certificate = "/etc/linkcore/tls/server.crt"
    private_key = "/etc/linkcore/tls/server.key"
    ca_bundle = "/etc/linkcore/tls/ca.crt"

    """

private func parse(_ text: String) throws -> DaemonConfig {
    try DaemonConfig.parse(text: tls + text, file: file, environment: [:], hostname: "node-a")
}

private func failure(_ text: String) -> ConfigError? {
    do {
        _ = try parse(text)
        return nil
    } catch let error as ConfigError {
        return error
    } catch {
        return nil
    }
}

@Suite struct PolicyConfigTests {
    @Test func noPolicyTableMeansNoModules() throws {
        let policy = try parse("").policy
        #expect(policy == DaemonConfig.Policy())
        #expect(policy.decisionDeadline == .milliseconds(50))
        #expect(policy.workersPerModule == 4)
    }

    @Test func modulesInOrderWithPathsResolved() throws {
        let policy = try parse(
            """
            [policy]
            decision_deadline_ms = 20
            workers_per_module = 2

            [[policy.module]]
            kind = "whitelist"
            path = "/usr/lib/linkcore/policy/liblinkcore-policy-whitelist.so"
            config = "whitelist.toml"

            [[policy.module]]
            kind = "whitelist"
            path = "modules/ratelimit.so"

            [[policy.module]]
            kind = "fees"
            path = "/usr/lib/linkcore/policy/liblinkcore-policy-fees.so"
            config = "/etc/linkcore/fees.toml"
            """
        ).policy
        #expect(policy.decisionDeadline == .milliseconds(20))
        #expect(policy.workersPerModule == 2)
        #expect(
            policy.modules == [
                .init(kind: .whitelist, path: "/usr/lib/linkcore/policy/liblinkcore-policy-whitelist.so", config: "/etc/linkcore/whitelist.toml"),
                .init(kind: .whitelist, path: "/etc/linkcore/modules/ratelimit.so", config: nil),
                .init(kind: .fees, path: "/usr/lib/linkcore/policy/liblinkcore-policy-fees.so", config: "/etc/linkcore/fees.toml"),
            ])
    }

    @Test func mistakesAreRefusedWithTheirLine() throws {
        let typo = try #require(failure("[[policy.module]]\nkind = \"whitelist\"\npaht = \"/x.so\"\n"))
        #expect(typo.kind == .unknownKey)
        #expect(typo.line == 7)
        #expect(typo.keyPath == "[policy.module] paht")

        let kind = try #require(failure("[[policy.module]]\nkind = \"fee\"\npath = \"/x.so\"\n"))
        #expect(kind.kind == .invalidValue)
        #expect(kind.description.contains("expected one of \"whitelist\", \"fees\", \"events\""))

        #expect(failure("[[policy.module]]\nkind = \"fees\"\n")?.kind == .missingRequired)
        #expect(failure("[[policy.module]]\npath = \"/x.so\"\n")?.kind == .missingRequired)
        #expect(failure("[policy]\ndecision_deadline_ms = 0\n")?.kind == .outOfRange)
        #expect(failure("[policy]\nmodule = \"x\"\n")?.kind == .wrongType)
        let twoFees = failure(
            "[[policy.module]]\nkind = \"fees\"\npath = \"/a.so\"\n[[policy.module]]\nkind = \"fees\"\npath = \"/b.so\"\n")
        #expect(twoFees?.kind == .invalidValue)
    }
}
