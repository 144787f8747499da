import Foundation
import LinkcorePostgresStore
import LinkcoreStore
import LinkcoreTestSupport
import Testing

/// Presence of organisations on nodes (issue 16): one lease per node, renewed by heartbeats,
/// measured by the database's clock; a node that stops beating is gone when its lease runs out.
@Suite struct ClusterStoreTests {
    @Test func presenceFollowsHeartbeatsAndExpiresWithTheLease() async throws {
        let database = try await PostgresServer.shared.database()
        let settings = try PostgresSettings.parse(database.url)
        let n1 = try await PostgresCoreStore.open(settings: settings)
        let n2 = try await PostgresCoreStore.open(settings: settings)
        let a1 = NodeAddress(name: "n1", address: "127.0.0.1:7411")
        let a2 = NodeAddress(name: "n2", address: "127.0.0.1:7412")

        _ = try await n1.heartbeat(node: "n1", address: a1.address, orgs: ["CITY01", "BANK01"], leaseMs: 600_000)
        // Long leases while presence is checked (a loaded machine may take seconds between two
        // statements); the expiry below is shown with a lease of 1 ms.
        let seenByN2 = try await n2.heartbeat(node: "n2", address: a2.address, orgs: ["TAX01"], leaseMs: 600_000)
        #expect(seenByN2 == ["CITY01": [a1], "BANK01": [a1]])
        #expect(try await n1.holders(of: "TAX01", excluding: "n1") == [a2])
        #expect(try await n1.holders(of: "CITY01", excluding: "n1").isEmpty, "a node is not its own holder")

        // A heartbeat makes the node's presence exactly what it holds now.
        _ = try await n1.heartbeat(node: "n1", address: a1.address, orgs: ["BANK01"], leaseMs: 600_000)
        #expect(try await n2.holders(of: "CITY01", excluding: "n2").isEmpty)
        #expect(try await n2.holders(of: "BANK01", excluding: "n2") == [a1])

        // n2 beats once more with a lease of 1 ms and then stops: once it has run out, no one is sent to it.
        _ = try await n2.heartbeat(node: "n2", address: a2.address, orgs: ["TAX01"], leaseMs: 1)
        try await eventually("n2's lease did not run out") { try await n1.holders(of: "TAX01", excluding: "n1").isEmpty }
        let nodes = try await n1.clusterNodes()
        #expect(nodes.map(\.name) == ["n1", "n2"])
        #expect(nodes.last?.leaseLeftMs ?? 1 <= 0 && nodes.last?.orgs == ["TAX01"], "\(nodes)")
        #expect((nodes.first?.leaseLeftMs ?? 0) > 0 && nodes.first?.orgs == ["BANK01"], "\(nodes)")

        // Leaving (at shutdown) ends the lease and the presence at once.
        try await n1.leave(node: "n1")
        #expect(try await n2.holders(of: "BANK01", excluding: "n2").isEmpty)
        #expect(try await n2.clusterNodes().first { $0.name == "n1" }?.orgs == [])
        await n1.close()
        await n2.close()
        await database.drop()
    }
}
