import Foundation
import LinkcoreClient
import LinkcoreTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Several core addresses (issue 16, item 3, first bullet): peers connect to one node and fail
/// over to another. Two real `linkcored` nodes sharing the test PKI (each on its own SQLite store:
/// routing between nodes is not this test's business), a dead address first; `kill -9` of the
/// node in use, then a request through the peer succeeds on the other.
@Suite(.serialized) struct CoreFailoverTests {
    /// Two nodes with the same network, `orgs` registered on both; a loopback port nothing listens on.
    static func twoNodes(orgs: [String], extraConfig: [String: String] = [:]) async throws -> (DaemonProcess, DaemonProcess, Int) {
        let first = try DaemonProcess(extraConfig: extraConfig)
        let second = try DaemonProcess(extraConfig: extraConfig, sharedPKI: first.pki)
        for org in orgs {
            try first.addOrg(org, role: org == "MATCHER" ? .matcher : .agency)
            second.register(org, role: org == "MATCHER" ? .matcher : .agency)
        }
        try await first.start()
        try await second.start()
        return (first, second, try freeLoopbackPort())
    }

    @Test func theAdapterFailsOverToTheNextNodeWhenItsNodeIsKilled() async throws {
        let (one, two, dead) = try await Self.twoNodes(orgs: ["CITY01"])
        defer { one.signal(SIGKILL); two.signal(SIGKILL) }
        let temp = try TempDirectory()
        let dataset = temp.url.appendingPathComponent("answers.sqlite").path
        let made = try await runToExit(Products.path("linkcore-adapter"), ["dataset", "--db", dataset, "--person", "P-1", "--info", "x", "--answer", "y"],
                                       outputDirectory: temp.url)
        guard made.status == 0 else { throw TestFailure("linkcore-adapter dataset: \(made.output)") }
        let list = [dead, one.port, two.port].map { "\"127.0.0.1:\($0)\"" }.joined(separator: ", ")
        let adapter = try AdapterProcess(org: "CITY01", pki: one.pki, directory: temp.url.appendingPathComponent("adapter"),
                                         corePort: one.port, matcherPort: nil, backend: ["kind = \"dataset\"", "dataset = \"\(dataset)\""],
                                         extra: ["core": "address = [\(list)]"])
        try await adapter.start()
        defer { adapter.process.signal(SIGKILL) }

        // The dead address is skipped within the round; STATUS names the node in use.
        try await adapter.waitConnected()
        let (_, before) = try await adapter.call("GET", "/status")
        #expect(before["core_address"] as? String == "127.0.0.1:\(one.port)", "\(before)")
        let (asked, statement) = try await adapter.call("GET", "/statement")
        #expect(asked == 200 && statement["org_code"] as? String == "CITY01", "\(statement)")

        // kill -9 the node in use: the adapter reconnects to the other one, and a request through it succeeds.
        one.signal(SIGKILL)
        _ = await one.process.waitForExit()
        let after = try await waitFor("the adapter did not fail over to 127.0.0.1:\(two.port):\n\(adapter.log)") { () -> [String: Any]? in
            let (_, status) = try await adapter.call("GET", "/status")
            return status["core_connected"] as? Bool == true && status["core_address"] as? String == "127.0.0.1:\(two.port)" ? status : nil
        }
        #expect((after["core_connects"] as? Int ?? 0) >= 2)
        let (again, statementAfter) = try await adapter.call("GET", "/statement")
        #expect(again == 200 && statementAfter["org_code"] as? String == "CITY01", "\(statementAfter)")
        // The log says which node is used, and that the dead address was tried and skipped.
        #expect(adapter.log.contains("127.0.0.1:\(dead)") && adapter.log.contains("trying the next"))
    }

    @Test func theCSDKFailsOverAndAMediationSucceedsOnTheOtherNode() async throws {
        let sdk = try await CSDK.built()
        let temp = try TempDirectory()
        let whitelist = temp.url.appendingPathComponent("whitelist.csv").path
        try "rule_id,bp_id,requester,provider,info_types,valid_from,valid_to\nT1,BP-TAX,CITY01,TAX01,income,2020-01-01,\n"
            .write(toFile: whitelist, atomically: true, encoding: .utf8)
        let (one, two, dead) = try await Self.twoNodes(
            orgs: ["MATCHER", "CITY01", "TAX01"], extraConfig: ["mediation": "whitelist = \"\(whitelist)\"\ndefault_deadline_ms = 5000"])
        defer { one.signal(SIGKILL); two.signal(SIGKILL) }
        // The resident's links on node 2 (each node has its own store here).
        let codes = try await two.issueLinks(residents: ["10000000001"], to: ["CITY01", "TAX01"])
        let table = temp.url.appendingPathComponent("TAX01.tsv").path
        try "\(codes["TAX01"]?["10000000001"] ?? "")\tincome band 3\n".write(toFile: table, atomically: true, encoding: .utf8)
        let nodes = [dead, one.port, two.port].map { "127.0.0.1:\($0)" }.joined(separator: ",")

        let provider = try sdk.start("provider", daemon: one, as: "TAX01", extra: ["--table", table, "--connect", nodes])
        defer { provider.process.signal(SIGKILL) }
        try await provider.waitForLine { $0 == "core node 127.0.0.1:\(one.port)" }
        one.signal(SIGKILL)
        _ = await one.process.waitForExit()
        try await provider.waitForLine { $0 == "core node 127.0.0.1:\(two.port)" }

        // The C requester, given the same list: two dead addresses, then the live node answers.
        let asked = try await sdk.run("mediate", daemon: two, as: "CITY01", extra: [
            "--connect", nodes, "--provider", "TAX01", "--bp", "BP-TAX", "--info", "income", "--link-code", codes["CITY01"]?["10000000001"] ?? "",
        ])
        #expect(asked.status == 0, "\(asked.output)\nprovider:\n\(provider.output)")
        #expect(asked.output.contains("answer: income band 3"), "\(asked.output)")
    }

    @Test func aRoundTriesEachAddressOnceFromTheCurrentAndALossMovesOn() async throws {
        let a = CoreAddress(host: "127.0.0.1", port: 1), b = CoreAddress(host: "::1", port: 2), c = CoreAddress(host: "127.0.0.1", port: 3)
        let nodes = CoreAddresses([a, b, c])
        #expect(b.description == "[::1]:2" && CoreAddress.parse("[::1]:2") == b && CoreAddress.parse("h:0") == nil)
        #expect(CoreAddresses(list: "127.0.0.1:1, [::1]:2,127.0.0.1:3")?.all == [a, b, c] && CoreAddresses(list: "x") == nil)
        struct Down: Error {}
        var tried: [CoreAddress] = []
        let got = try await nodes.firstConnecting { address in
            tried.append(address)
            if address == a { throw Down() }
            return address
        }
        #expect(got == b && tried == [a, b] && nodes.current == b)
        // Lost b: the next round starts with c, then wraps to a.
        nodes.failOver()
        tried = []
        do {
            _ = try await nodes.firstConnecting { address -> CoreAddress in tried.append(address); throw Down() }
            Issue.record("a round of dead nodes succeeded")
        } catch let error as CoreUnreachable {
            #expect(error.failures.map(\.address) == [c, a, b])
        }
        #expect(tried == [c, a, b] && nodes.current == c)
    }
}
