import Foundation
import LinkcoreAudit
import LinkcorePostgresStore
import LinkcoreStore
import LinkcoreTestSupport
import Testing

/// What only the PostgreSQL engine has: several stores (nodes) on one database, migrations when
/// they start at once, a lost or unreachable server, event claims, the connection string.
@Suite struct PostgresStoreTests {
    static let now: Int64 = 1_800_000_000_000

    func record(_ i: Int, node: Int) -> AccessRecord {
        AccessRecord(mediationID: "n\(node)-\(i)", idCode: UInt64(i), atMs: Self.now + Int64(i), requester: "CITY01", provider: "TAX01",
                     bpID: "BP1", infoType: "income", outcome: .answered)
    }

    @Test func nodesStartingAtOnceMigrateOnceUnderTheAdvisoryLock() async throws {
        let database = try await PostgresServer.shared.database()
        let settings = try PostgresSettings.parse(database.url)
        let stores = try await withThrowingTaskGroup(of: PostgresCoreStore.self) { group in
            for _ in 0..<4 { group.addTask { try await PostgresCoreStore.open(settings: settings) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(stores.count == 4)
        // Each migration once, none skipped (docs/store.md lists them).
        #expect(try await database.psql("SELECT count(*) = max(version) AND count(*) = count(DISTINCT version) FROM schema_version") == "t")
        #expect(try await database.psql("SELECT position FROM access_head") == "0")
        for store in stores { await store.close() }
        await database.drop()
    }

    /// Three stores on one database append concurrently: one chain ordered by the database
    /// (the head row locked per transaction), positions 1...n, every hash over the previous.
    @Test func threeNodesAppendToOneChain() async throws {
        let database = try await PostgresServer.shared.database()
        let settings = try PostgresSettings.parse(database.url)
        var nodes: [PostgresCoreStore] = []
        for _ in 0..<3 { nodes.append(try await PostgresCoreStore.open(settings: settings)) }
        let perNode = 60
        let stores = nodes
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (n, node) in stores.enumerated() {
                for i in 0..<perNode { group.addTask { _ = try await node.appendAccess(self.record(i, node: n)) } }
            }
            try await group.waitForAll()
        }
        var previous = AccessChain.genesis
        let chain = try await nodes[0].accessChain(afterPosition: 0, limit: 1000)
        #expect(chain.map(\.position) == Array(1...UInt64(3 * perNode)))
        for entry in chain {
            #expect(entry.hash == AccessChain.hash(previous: previous, position: entry.position, record: entry.record))
            previous = entry.hash
        }
        #expect(Set(chain.map(\.record.mediationID)).count == 3 * perNode)
        for node in nodes { await node.close() }
        await database.drop()
    }

    /// The fee ledger is unique per (operation, reference) across nodes, decided by the database.
    @Test func twoNodesChargeOneOperationOnce() async throws {
        let database = try await PostgresServer.shared.database()
        let settings = try PostgresSettings.parse(database.url)
        let a = try await PostgresCoreStore.open(settings: settings)
        let b = try await PostgresCoreStore.open(settings: settings)
        let charge = FeeCharge(payer: "BANK01", operation: .mediation, reference: "m-1", amountYen: 10, tariffID: "T", atMs: Self.now)
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for store in [a, b, a, b] { group.addTask { try await store.charge(charge) } }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 1)
        #expect(try await database.psql("SELECT count(*) FROM fee_ledger") == "1")
        await a.close(); await b.close()
        await database.drop()
    }

    /// Two nodes claiming one receiver's due events get disjoint sets (FOR UPDATE SKIP LOCKED and
    /// leases); an expired lease frees the events again; acknowledged ones are never claimed.
    @Test func eventClaimsAreDisjointAndLeased() async throws {
        let database = try await PostgresServer.shared.database()
        let settings = try PostgresSettings.parse(database.url)
        let a = try await PostgresCoreStore.open(settings: settings)
        let b = try await PostgresCoreStore.open(settings: settings)
        try await a.addOrganisation(Organisation(code: "TAX01", name: "Tax", sector: .publicBody, role: .agency, createdAtMs: 0))
        _ = try await a.issueLink(residentHash: Array(repeating: 9, count: 32), orgCode: "TAX01", matchingNumber: "N", expiresAtMs: Self.now + 1,
                                  nowMs: Self.now, newIDCode: { 5 }, charge: nil)
        let entries = (0..<40).map { i in
            OutboxEntry(eventID: String(format: "e%03d", i), orgCode: "TAX01", idCode: 5, kind: 1, occurredAtMs: Self.now, delivery: .immediate,
                        dueAtMs: Self.now, createdAtMs: Self.now)
        }
        _ = try await a.queueEvents(reporter: "CITY01", reportID: "r", entries: entries, nowMs: Self.now)
        async let claimedByA = a.claimEvents(orgCode: "TAX01", node: "a", dueBy: Self.now, leaseUntilMs: Self.now + 1000, limit: 25)
        async let claimedByB = b.claimEvents(orgCode: "TAX01", node: "b", dueBy: Self.now, leaseUntilMs: Self.now + 1000, limit: 25)
        let (ca, cb) = try await (claimedByA, claimedByB)
        let idsA = Set(ca.map(\.entry.eventID)), idsB = Set(cb.map(\.entry.eventID))
        #expect(idsA.isDisjoint(with: idsB))
        #expect(idsA.count + idsB.count == 40)
        // Within the lease: nothing more for another node; after it, a's events go to b.
        #expect(try await b.claimEvents(orgCode: "TAX01", node: "b", dueBy: Self.now + 10, leaseUntilMs: Self.now + 1000, limit: 50)
                .allSatisfy { idsB.contains($0.entry.eventID) })
        _ = try await a.acknowledgeEvents(orgCode: "TAX01", eventIDs: Array(idsA.prefix(5)), nowMs: Self.now, charge: nil)
        let afterLease = try await b.claimEvents(orgCode: "TAX01", node: "b", dueBy: Self.now + 2000, leaseUntilMs: Self.now + 3000, limit: 50)
        #expect(afterLease.count == 35)
        await a.close(); await b.close()
        await database.drop()
    }

    /// A server that cannot be reached: the store answers `unavailable` (retryable) at once,
    /// not after a hang; when connections are killed under it, it reconnects by itself.
    @Test func anUnreachableServerIsUnavailableAndALostConnectionIsReopened() async throws {
        let missing = try PostgresSettings.parse("postgresql://linkcore@/nowhere?host=/tmp/linkcore-no-such-dir&port=5999")
        do {
            _ = try await PostgresCoreStore.open(settings: missing)
            Issue.record("opening an unreachable server must fail")
        } catch let error as StoreError {
            guard case .unavailable = error else { Issue.record("expected unavailable, got \(error)"); return }
        }

        let database = try await PostgresServer.shared.database()
        let store = try await PostgresCoreStore.open(settings: try PostgresSettings.parse(database.url))
        _ = try await store.appendAccess(record(1, node: 0))
        // Every backend of this database is terminated, as a server restart or failover would.
        try await database.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        // The next writes fail with a retryable error or succeed on a new connection; soon they succeed.
        var sawOnlyUnavailable = true
        try await eventually("the store did not reconnect") {
            do {
                _ = try await store.appendAccess(self.record(2, node: 0))
                return true
            } catch let error as StoreError {
                if case .unavailable = error {} else { sawOnlyUnavailable = false }
                return false
            }
        }
        #expect(sawOnlyUnavailable)
        _ = try await eventually("reads reconnect") { (try? await store.accessHead()) != nil }
        let chain = try await store.accessChain(afterPosition: 0, limit: 10)
        #expect(chain.map(\.position) == [1, 2])
        await store.close()
        await database.drop()
    }

    @Test func connectionStringsAreParsedAndBadOnesExplained() throws {
        let socket = try PostgresSettings.parse("postgresql://core@/linkcore?host=/run/postgresql")
        #expect(socket.endpoint == .unixSocket(path: "/run/postgresql/.s.PGSQL.5432") && socket.tls == .disable && socket.database == "linkcore")
        let tcp = try PostgresSettings.parse("postgresql://core:s%40cret@db.example:6432/linkcore?sslmode=verify-full&sslrootcert=/etc/ca.pem")
        #expect(tcp.endpoint == .tcp(host: "db.example", port: 6432) && tcp.password == "s@cret" && tcp.tls == .verifyFull)
        #expect(tcp.rootCertificatePath == "/etc/ca.pem")
        #expect(!tcp.redacted.contains("s@cret") && !tcp.redacted.contains("cret"))
        #expect(try PostgresSettings.parse("postgresql://core@db/linkcore").tls == .verifyFull)
        for bad in ["", "mysql://x@y/z", "postgresql://db/linkcore", "postgresql://core@db/", "postgresql://core@db/x?sslmode=maybe",
                    "postgresql://core@db/x?target=any", "postgresql://core@db/x?port=0"] {
            #expect(throws: PostgresSettingsError.self) { try PostgresSettings.parse(bad) }
        }
    }
}
