import Foundation
import LinkcoreClient
import LinkcorePKI
import LinkcoreTestSupport
import LinkcoreTLS
import LinkcoreWire
import Testing

/// Several linkcored nodes on one PostgreSQL database (issue 16, item 3), with real processes:
/// two nodes, requester A on node 1, provider B on node 2.
@Suite(.serialized) struct ClusterTests {
    static let residents = (1...2).map { "3000000000\($0)" }

    /// A→B crosses from node 1 to node 2 and back: answered, one access-log entry, the log
    /// verifies; `linkctl status` shows both nodes and who is where; once B is gone, A hears
    /// PROVIDER_UNAVAILABLE (also logged once).
    @Test func aMediationCrossesNodesAndIsLoggedOnce() async throws {
        let net = try await ClusterNetwork(orgs: ["CITY01", "TAX01"])
        try await net.link(residents: Self.residents, to: ["CITY01", "TAX01"])
        try await net.startProvider("TAX01", on: 1)
        try await net.waitForPresence("TAX01", on: "n2", seenBy: 0)

        let answered = try await net.ask(as: "CITY01", on: 0, provider: "TAX01", residents: [Self.residents[0]])
        #expect(answered.count == 1)
        #expect(answered.first?.answer == ClusterNetwork.answer(for: Self.residents[0]), "\(answered)")
        let id = try #require(answered.first?.mediationId)
        #expect(try await net.rows("SELECT count(*) FROM access_log WHERE mediation_id = '\(id)'") == [["1"]])
        #expect(try await net.rows("SELECT count(*) FROM access_log") == [["1"]])

        let (statusCode, status) = try await net.nodes[0].linkctl(["status"])
        #expect(statusCode == 0)
        #expect(status.contains("node: n1"), "\(status)")
        #expect(status.split(separator: "\n").contains { $0.contains("n2") && $0.contains("TAX01") && $0.contains("lease") }, "\(status)")

        // B leaves node 2: A (through node 1) hears PROVIDER_UNAVAILABLE, as with one node.
        net.killProvider("TAX01")
        try await eventually("node 2 still lists TAX01") {
            try await net.nodes[1].status().peers.allSatisfy { $0.orgCode != "TAX01" }
        }
        let unavailable = try await net.ask(as: "CITY01", on: 0, provider: "TAX01", residents: [Self.residents[1]])
        #expect(unavailable.first?.code == Int(LCErrorCode.providerUnavailable.rawValue), "\(unavailable)")
        #expect(try await net.rows("SELECT count(*) FROM access_log") == [["2"]])

        // One chain for the cluster: a checkpoint signed, and linkctl audit verify passes (from either node).
        for node in net.nodes {
            try await eventually("no signed checkpoint at 2\n\(node.log)") {
                let (code, output) = try await node.linkctl(["audit", "verify"])
                return code == 0 && output.contains("intact: 2 entries") && !output.contains(" 0 signed checkpoints")
            }
        }
    }

    /// A change event for TAX01, reported through node 1 while TAX01 takes pushes on node 2 (and
    /// on node 1 as well): delivered once, acknowledged once, claimed by one node.
    @Test func anEventIsClaimedByOneNodeAndDeliveredOnce() async throws {
        let net = try await ClusterNetwork(orgs: ["CITY01", "TAX01"])
        try await net.link(residents: Self.residents, to: ["CITY01", "TAX01"])
        let inbox = ChangeEventTests.EventInbox()
        let hello = LinkcoreConnection.defaultHello(software: "test-adapter", acceptsPushes: true)
        var receivers: [LinkcoreConnection] = []
        for node in net.nodes.reversed() {
            receivers.append(try await LinkcoreConnection.connect(to: .tcp(host: "127.0.0.1", port: node.port),
                                                                  tls: try net.pki.clientTLS("TAX01"), hello: hello, incoming: inbox.handler))
        }
        defer { for receiver in receivers { Task { await receiver.close() } } }

        let matcher = try await net.nodes[0].connect(as: "MATCHER")
        defer { Task { await matcher.close() } }
        guard case let .reportChangeResponse(report)? = try await matcher.request(.reportChange(.with {
            $0.residentCode = Self.residents[0]; $0.kind = .moved; $0.reportID = "cluster-1"
        })) else { throw TestFailure("no ReportChangeResponse") }
        #expect(report.eventsQueued >= 1)

        let received = try await inbox.wait(count: 1, "TAX01's event")
        try await eventually("the event is not acknowledged in the outbox") {
            try await net.rows("SELECT count(*) FROM event_outbox WHERE org_code = 'TAX01' AND acked_at IS NOT NULL") == [["1"]]
        }
        let claims = try await net.rows("SELECT claimed_by FROM event_outbox WHERE org_code = 'TAX01'")
        #expect(claims.count == 1 && ["n1", "n2"].contains(claims.first?.first ?? ""), "\(claims)")
        let ids = inbox.received.map(\.eventID)
        #expect(ids.count == 1 && Set(ids).count == 1, "delivered \(ids.count) times: \(ids)")
        #expect(received.first?.kind == .moved)
    }

    /// The node listener admits node certificates of the network CA only: an organisation's
    /// certificate (same CA) and a node certificate of another CA hear NODE_CERTIFICATE_REQUIRED;
    /// a node certificate is accepted there and refused on the organisations' listener.
    @Test func onlyNodeCertificatesOpenNodeConnections() async throws {
        let net = try await ClusterNetwork(orgs: ["TAX01"])
        let nodePort = net.nodePorts[1]

        func ping(_ tls: TLSContext) async throws -> LCEnvelope.OneOf_Body? {
            let connection = try await LinkcoreConnection.connect(to: .tcp(host: "127.0.0.1", port: nodePort), tls: tls, hello: nil)
            defer { Task { await connection.close() } }
            do {
                return try await connection.request(.ping(LCPing()), timeout: .seconds(30))
            } catch {
                throw await connection.closeReason() ?? error
            }
        }
        func expectRefused(_ tls: TLSContext, _ what: String) async {
            do {
                _ = try await ping(tls)
                Issue.record("\(what) was accepted on the node listener")
            } catch let error as WireError {
                #expect(error.code == .nodeCertificateRequired, "\(what): \(error)")
            } catch {
                Issue.record("\(what): \(error)")
            }
        }

        await expectRefused(try net.pki.clientTLS("TAX01"), "an organisation's certificate")
        let other = try TestPKI(directory: TestPKI.temporaryDirectory("other-ca"), caName: "someone else's CA")
        try ClusterNetwork.issueNode("n1", in: other)
        let foreign = try TLSContext.client(TLSConfiguration(certificateChainPath: other.path("node-n1.pem"), privateKeyPath: other.path("node-n1.key"),
                                                             trustRootsPath: net.pki.caPath, serverName: "localhost"))
        await expectRefused(foreign, "a node certificate of another CA")

        guard case .pong? = try await ping(try net.pki.clientTLS("node-n1")) else { throw TestFailure("node n1 got no Pong") }

        do {
            let connection = try await net.nodes[1].connect(as: "node-n1")
            await connection.close()
            Issue.record("a node certificate was accepted on the organisations' listener")
        } catch let error as WireError {
            #expect(error.code == .certificateRejected, "\(error)")
        }
    }
}
