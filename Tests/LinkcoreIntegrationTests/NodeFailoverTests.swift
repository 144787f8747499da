import Foundation
import LinkcoreAdapter
import LinkcoreClient
import LinkcoreWire
import Logging
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 16, item 4(a): `kill -9` of one node of three under continuous mediation, issuance and
/// event load, with real processes (ClusterNetwork: three linkcored nodes on one PostgreSQL
/// database). The peers are the adapter's own reconnecting session (`CoreSession`), each given
/// all three addresses, its own node first; TAX01 (provider), BANK01 (a paying requester and
/// event receiver) and one of the matcher's two sessions are on node 3, the one killed.
@Suite(.serialized) struct NodeFailoverTests {
    static let residents = (1...6).map { "6100000000\($0)" }
    static let mediations = 120, issuances = 60, reports = 30

    @Test func killingANodeUnderLoadLosesNothingAcknowledged() async throws {
        let dir = try TempDirectory()
        let fees = dir.url.appendingPathComponent("fees.toml").path
        try FeeTests.tariff.write(toFile: fees, atomically: true, encoding: .utf8)
        let net = try await ClusterNetwork(count: 3, orgs: ["CITY01", "TAX01", "BANK01"], privateOrgs: ["BANK01"],
                                           extraConfig: ["policy": Products.policyModules([("fees", fees)])])
        defer { net.stop() }
        try await net.link(residents: Self.residents, to: ["CITY01", "BANK01", "TAX01"])

        let peers = [
            try Peer("TAX01", net, first: 2), try Peer("BANK01", net, first: 2), try Peer("MATCHER", net, first: 2),
            try Peer("CITY01", net, first: 0), try Peer("MATCHER", net, first: 1),
        ]
        defer { for peer in peers { Task { await peer.session.stop() } } }
        for peer in peers { try await peer.waitConnected(net) }
        let (tax, bank, matcherOn3, city, matcherOn2) = (peers[0], peers[1], peers[2], peers[3], peers[4])
        let onKilled = [tax, bank, matcherOn3]
        for org in ["TAX01", "BANK01", "MATCHER"] { try await net.waitForPresence(org, on: "n3", seenBy: 0) }

        // The load: every operation is sent until acknowledged, again with the same idempotency
        // key, matching number or report id after a failure (as a careful client does).
        let log = Ledger()
        let mediated = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        for i in stride(from: worker, to: Self.mediations, by: 4) {
                            let requester = i % 2 == 0 ? city : bank
                            let resident = Self.residents[i % Self.residents.count]
                            let reply = try await requester.untilAcknowledged(.mediate(.with {
                                $0.bpID = "BP-TAX"; $0.providerOrg = "TAX01"; $0.infoType = "income"
                                $0.linkCode = net.codes[requester.org]?[resident] ?? ""; $0.idempotencyKey = "load-\(i)"
                            }), log)
                            guard case let .mediateResponse(response) = reply else { throw TestFailure("not a MediateResponse: \(reply)") }
                            let expected = "answer:" + (net.codes["TAX01"]?[resident] ?? "")
                            #expect(String(decoding: response.answer, as: UTF8.self) == expected)
                            log.acknowledge(mediation: response.mediationID, by: requester.org)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let issued = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<2 {
                    group.addTask {
                        for i in stride(from: worker, to: Self.issuances, by: 2) {
                            let number = "M-load-\(i)"
                            let reply = try await (i % 2 == 0 ? matcherOn3 : matcherOn2).untilAcknowledged(.issueLink(.with {
                                $0.residentCode = String(62_000_000_000 + i); $0.orgCode = i % 4 < 2 ? "BANK01" : "CITY01"
                                $0.matchingNumber = number; $0.expiresAtMs = Int64(Date().timeIntervalSince1970 * 1000) + 600_000
                            }), log)
                            guard case .issueLinkResponse = reply else { throw TestFailure("not an IssueLinkResponse: \(reply)") }
                            log.acknowledge(link: number)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let reported = Task {
            for i in 0..<Self.reports {
                let reply = try await (i % 2 == 0 ? matcherOn3 : matcherOn2).untilAcknowledged(.reportChange(.with {
                    $0.residentCode = Self.residents[i % Self.residents.count]; $0.kind = .moved; $0.reportID = "load-\(i)"
                }), log)
                guard case .reportChangeResponse = reply else { throw TestFailure("not a ReportChangeResponse: \(reply)") }
                log.acknowledge(report: "load-\(i)")
            }
        }

        // Mid-load: kill -9 node 3, then time its peers' return (each connected to another node,
        // and node 1 seeing them there), for the docs only.
        try await eventually(timeout: .seconds(300), "the load did not get going") { log.mediationCount >= Self.mediations / 3 }
        let killedAt = ContinuousClock.now
        net.nodes[2].signal(SIGKILL)
        _ = await net.nodes[2].process.waitForExit()
        let killedAddress = net.peerAddresses[2].description
        try await eventually(timeout: .seconds(120), "node 3's peers did not reconnect to another node") {
            onKilled.allSatisfy { $0.session.state.connected && $0.session.state.core != killedAddress }
        }
        let reconnected = ContinuousClock.now - killedAt
        try await eventually(timeout: .seconds(120), "node 1 does not see node 3's peers on a live node") {
            let nodes = try await net.nodes[0].status().clusterNodes.filter { $0.name != "n3" && $0.leaseLeftMs > 0 }
            return ["TAX01", "BANK01", "MATCHER"].allSatisfy { org in nodes.contains { $0.orgs.contains(org) } }
        }
        let routed = ContinuousClock.now - killedAt
        print("figure: node kill -9 -> its 3 peers connected to another node after \(reconnected.wholeMilliseconds) ms, "
              + "seen there by node 1 after \(routed.wholeMilliseconds) ms (lease_ms 3000, heartbeat_ms 200, reconnect backoff 100 ms-1 s)")

        try await mediated.value
        try await issued.value
        try await reported.value
        print("figure: in-flight failures during the failover, each retried: \(log.failureSummary)")
        #expect(log.refusals.isEmpty, "definitive refusals: \(log.refusals)")

        try await Self.checkNothingLost(net, log, peers: peers)
    }

    /// Zero loss, read from the database itself (psql).
    static func checkNothingLost(_ net: ClusterNetwork, _ log: Ledger, peers: [Peer]) async throws {
        // Every acknowledged mediation has exactly one access-log entry, and every answered entry
        // was acknowledged (none answered and logged behind A's back); the paying requester is
        // charged once per acknowledged mediation.
        let answered = try await net.rows("SELECT mediation_id, count(*) FROM access_log WHERE outcome = 1 GROUP BY mediation_id")
        #expect(answered.allSatisfy { $0[1] == "1" }, "\(answered.filter { $0[1] != "1" })")
        #expect(Set(answered.map { $0[0] }) == log.mediations, "answered entries \(answered.count), acknowledged \(log.mediations.count)")
        #expect(log.mediations.count == Self.mediations)
        // A retry keeps the first attempt's id (protocol.md §8, "Retries"): unanswered attempts
        // (B's node gone) are entries of their own under that id, so every entry, answered or
        // not, belongs to an acknowledged mediation: none is left half-done.
        let logged = try await net.rows("SELECT mediation_id, count(*) FROM access_log GROUP BY mediation_id")
        #expect(Set(logged.map { $0[0] }) == log.mediations)
        print("figure: access-log entries \(logged.reduce(0) { $0 + (Int($1[1]) ?? 0) }) for \(log.mediations.count) mediations "
              + "(the rest are unanswered attempts, retried under the same id)")
        let charged = try await net.rows("SELECT reference FROM fee_ledger WHERE operation = 'mediation'").map { $0[0] }
        #expect(charged.count == Set(charged).count && Set(charged) == log.mediationsBy("BANK01"))

        // Every acknowledged link exists (live), and each of BANK01's issuances is charged once.
        let live = Set(try await net.rows("""
            SELECT i.matching_number FROM issuances i JOIN links l ON l.link_id = i.link_id WHERE l.unlinked_at IS NULL
            """).map { $0[0] })
        #expect(log.links.count == Self.issuances && log.links.isSubset(of: live), "missing: \(log.links.subtracting(live))")
        let bankIssuances = Set(try await net.rows("""
            SELECT i.matching_number FROM issuances i JOIN links l ON l.link_id = i.link_id WHERE l.org_code = 'BANK01'
            """).map { $0[0] })
        let linkFees = try await net.rows("SELECT reference FROM fee_ledger WHERE operation = 'link_issuance'").map { $0[0] }
        #expect(linkFees.count == Set(linkFees).count && Set(linkFees) == bankIssuances)

        // Every acknowledged report was recorded, and every event it queued is delivered (at least
        // once) and acknowledged once (a claim of the dead node runs out, then a live node delivers).
        let recorded = Set(try await net.rows("SELECT report_id FROM change_reports WHERE reporter = 'MATCHER'").map { $0[0] })
        #expect(log.reports.count == Self.reports && log.reports.isSubset(of: recorded))
        try await eventually(timeout: .seconds(180), poll: .milliseconds(200), "events still unacknowledged") {
            try await net.rows("SELECT count(*) FROM event_outbox WHERE acked_at IS NULL") == [["0"]]
        }
        let outbox = try await net.rows("SELECT org_code, event_id FROM event_outbox")
        #expect(outbox.count >= Self.reports * 3, "\(outbox.count) events for \(Self.reports) reports on residents linked to 3 organisations")
        for org in ["CITY01", "TAX01", "BANK01"] {
            let queued = Set(outbox.filter { $0[0] == org }.map { $0[1] })
            let received = Set(peers.filter { $0.org == org }.flatMap(\.inbox.events))
            #expect(queued.isSubset(of: received), "\(org) never received \(queued.subtracting(received))")
        }
        let eventFees = try await net.rows("SELECT reference FROM fee_ledger WHERE operation = 'event_delivery'").map { $0[0] }
        #expect(eventFees.count == Set(eventFees).count && Set(eventFees) == Set(outbox.filter { $0[0] == "BANK01" }.map { $0[1] }))

        // One chain for the cluster still verifies, from a surviving node.
        try await eventually("linkctl audit verify fails\n\(net.nodes[0].log.suffix(2000))") {
            let (code, output) = try await net.nodes[0].linkctl(["audit", "verify"])
            return code == 0 && output.contains("intact")
        }
    }
}

extension NodeFailoverTests {
    /// What the load had acknowledged, and what failed on the way (each retried).
    final class Ledger: Sendable {
        private struct State {
            var mediations: [String: String] = [:]  // mediation id -> requester
            var links: Set<String> = []
            var reports: Set<String> = []
            var failures: [String: Int] = [:]
            var refusals: [String] = []
        }
        private let state = Mutex(State())

        func acknowledge(mediation id: String, by requester: String) { state.withLock { $0.mediations[id] = requester } }
        func acknowledge(link number: String) { _ = state.withLock { $0.links.insert(number) } }
        func acknowledge(report id: String) { _ = state.withLock { $0.reports.insert(id) } }
        func failed(_ kind: String) { state.withLock { $0.failures[kind, default: 0] += 1 } }
        func refused(_ what: String) { state.withLock { $0.refusals.append(what) } }

        var mediationCount: Int { state.withLock { $0.mediations.count } }
        var mediations: Set<String> { state.withLock { Set($0.mediations.keys) } }
        func mediationsBy(_ org: String) -> Set<String> { state.withLock { Set($0.mediations.filter { $0.value == org }.keys) } }
        var links: Set<String> { state.withLock { $0.links } }
        var reports: Set<String> { state.withLock { $0.reports } }
        var refusals: [String] { state.withLock { $0.refusals } }
        var failureSummary: String {
            state.withLock { $0.failures.sorted { $0.key < $1.key }.map { "\($0.key) x\($0.value)" }.joined(separator: ", ") }
        }
    }

    /// Change events as an organisation received them (duplicates kept).
    final class Inbox: Sendable {
        private let received = Mutex<[String]>([])
        var events: [String] { received.withLock { $0 } }

        /// Answers as provider (`answer:` + its link code), acknowledges events and LinkIssued.
        var handler: IncomingRequestHandler {
            { request in
                switch request.body {
                case let .provide(provide)?:
                    return .success(.provideResponse(.with { $0.answer = Data(("answer:" + provide.linkCode).utf8) }))
                case let .changeEvent(event)?:
                    self.received.withLock { $0.append(event.eventID) }
                    return .success(.changeEventAck(LCChangeEventAck()))
                case .linkIssued?:
                    return .success(.linkIssuedAck(LCLinkIssuedAck()))
                default:
                    return .failure(WireError(.unknownMessage, "not expected"))
                }
            }
        }
    }

    /// One organisation's connection as its adapter keeps it: `CoreSession` over every node,
    /// starting with node `first`, reconnecting with backoff to the next when it is lost.
    final class Peer: Sendable {
        let org: String
        let first: CoreAddress
        let inbox: Inbox
        let session: CoreSession
        private let runner: Task<Void, Never>

        init(_ org: String, _ net: ClusterNetwork, first: Int) throws {
            let all = net.peerAddresses
            let endpoint = try CoreEndpoint(addresses: Array(all[first...] + all[..<first]), certificate: net.pki.path("\(org).pem"),
                                            privateKey: net.pki.path("\(org).key"), caBundle: net.pki.path("ca.pem"))
            var logger = Logger(label: "peer-\(org)")
            logger.logLevel = .warning
            self.org = org
            self.first = all[first]
            let inbox = Inbox()
            self.inbox = inbox
            let session = CoreSession(endpoint: endpoint, orgCode: org, backoff: .init(initial: .milliseconds(100), maximum: .seconds(1)),
                                      logger: logger, incoming: inbox.handler)
            self.session = session
            runner = Task { await session.run() }
        }

        deinit { runner.cancel() }

        func waitConnected(_ net: ClusterNetwork) async throws {
            try await eventually("\(org) did not connect to \(first)") {
                session.state.connected && session.state.core == first.description
            }
        }

        /// Sends `body` until it is answered. A failure on the way must be what a node's loss
        /// gives (a retryable error, a lost connection, no reply in time), never a definitive
        /// refusal: that is recorded and ends the test.
        func untilAcknowledged(_ body: LCEnvelope.OneOf_Body, _ ledger: Ledger) async throws -> LCEnvelope.OneOf_Body {
            try await waitFor(timeout: .seconds(300), poll: .milliseconds(100), "\(org): never acknowledged: \(body)") { () async throws -> LCEnvelope.OneOf_Body? in
                do {
                    guard let reply = try await session.request(body, timeout: .seconds(30)) else { throw TestFailure("an empty reply") }
                    return reply
                } catch let error as WireError {
                    guard error.retryable else {
                        ledger.refused("\(org): \(error)")
                        throw TestFailure("\(org): a definitive refusal while a node failed: \(error)")
                    }
                    ledger.failed(error.code.name)
                    return nil
                } catch let error as TestFailure {
                    throw error
                } catch {
                    ledger.failed("connection lost")
                    return nil
                }
            }
        }
    }
}

extension Duration {
    var wholeMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
