import Foundation
import LinkcoreConfig
import LinkcoreDomain
import LinkcoreLifecycle
import LinkcoreStore
import LinkcoreTLS
import LinkcoreTransport
import LinkcoreWire
import Logging
import NIOCore
import Synchronization

/// This linkcored as one node of several on one PostgreSQL database (issue 16, item 3;
/// docs/store.md "Several nodes"). Built only when the config has `[node]` and the store is
/// PostgreSQL; a single node (SQLite) has none of this and no presence lookup on its path.
///
/// - **Presence**: every `[node] heartbeat_ms` the node renews its lease and publishes the
///   organisations whose connections take requests here (`ClusterStore.heartbeat`, one write),
///   and keeps the others' live presence as its routing table. A node that stops beating is gone
///   once its lease (`lease_ms`) runs out; at shutdown it leaves at once.
/// - **Forwarding**: a mediation to B not connected here goes to the node holding B
///   (`NodeLinks`), which relays it to B and sends back B's answer or refusal unchanged. The
///   asking node, A's, decides and writes the access-log entry, as for a local B.
/// - **Events**: the node holding the receiver's connection claims its due events
///   (`claimEvents`, FOR UPDATE SKIP LOCKED, leased), so two nodes never push the same event at
///   once; the receiver's acknowledgement marks each once.
final class ClusterNode: Sendable {
    let settings: DaemonConfig.Node
    let store: any ClusterStore
    let registry: ConnectionRegistry
    let orgs: OrgDirectory
    let local: PushProviderGateway
    let links: NodeLinks
    let logger: Logger
    /// Other nodes' organisations as of the last heartbeat: org -> nodes holding it.
    private let presence = Mutex<[String: [NodeAddress]]>([:])
    private let lastBeat = Mutex<(ok: Bool, error: String?)>((false, nil))
    /// How long a node's claim on events lasts before another node may deliver them.
    static let eventClaimMs: Int64 = 30_000

    init(settings: DaemonConfig.Node, store: any ClusterStore, registry: ConnectionRegistry, orgs: OrgDirectory,
         local: PushProviderGateway, links: NodeLinks, logger: Logger) {
        self.settings = settings
        self.store = store
        self.registry = registry
        self.orgs = orgs
        self.local = local
        self.links = links
        var logger = logger
        logger[metadataKey: "node"] = "\(settings.name)"
        self.logger = logger
    }

    /// The cluster part of the core, or nil for a single node.
    static func make(_ config: DaemonConfig, store: any CoreStore, registry: ConnectionRegistry, orgs: OrgDirectory,
                     local: PushProviderGateway, logger: Logger) throws -> ClusterNode? {
        guard let node = config.node, let cluster = store as? any ClusterStore else { return nil }
        let links = try NodeLinks(node: node, caBundle: config.tls.caBundle, crl: config.tls.crl,
                                  limits: CoreComponents.limits(config), logger: logger)
        return ClusterNode(settings: node, store: cluster, registry: registry, orgs: orgs, local: local, links: links, logger: logger)
    }

    // MARK: presence

    /// Organisations with a connection here that takes requests from the core.
    var localOrgs: Set<String> { Set(registry.entries.filter(\.acceptsPushes).map(\.orgCode)) }

    func beat() async {
        do {
            let others = try await store.heartbeat(node: settings.name, address: settings.advertise, orgs: localOrgs,
                                                   leaseMs: Int64(settings.lease / .milliseconds(1)))
            presence.withLock { $0 = others }
            // Organisations changed through another node's admin socket reach this one here.
            await orgs.refresh()
            let recovered = lastBeat.withLock { state in defer { state = (true, nil) }; return !state.ok }
            if recovered { logger.info("node heartbeat ok", metadata: ["peers_elsewhere": "\(others.count)"]) }
        } catch {
            lastBeat.withLock { $0 = (false, "\(error)") }
            logger.warning("node heartbeat failed; the lease runs out unless the next one succeeds", metadata: ["error": "\(error)"])
        }
    }

    /// The heartbeat as a service: at once, then every `heartbeat_ms`; at shutdown the node
    /// leaves the presence table so that the others stop forwarding to it.
    func heartbeatService() -> BackgroundService {
        BackgroundService.periodic("node heartbeat", every: { [settings] in settings.heartbeatInterval }, tickAtStart: true,
                                   onStop: { [self] in
                                       try? await store.leave(node: settings.name)
                                       await links.closeAll()
                                   },
                                   tick: { [self] in await beat() })
    }

    /// Whether some node (this or another, as last seen) holds a connection of `org`.
    func knows(_ org: String) -> Bool { presence.withLock { $0[org] != nil } }

    /// The node to forward to: the last heartbeat's view, or the database's when B has connected
    /// elsewhere since.
    func holder(of org: String) async -> NodeAddress? {
        if let node = presence.withLock({ $0[org]?.first }) { return node }
        return try? await store.holders(of: org, excluding: settings.name).first
    }

    var heartbeatProblem: String? { lastBeat.withLock { $0.error } }

    // MARK: serving other nodes

    /// What this node does for a NodeProvide: relay it to B's connection here, under what is
    /// left of A's deadline (re-based on this node's clock).
    func relayForwarded(_ provider: String, _ request: LCProvideRequest, timeoutMs: Int64) async -> NodeConnectionHandler.ProviderRelayResult {
        guard local.reachable(provider) else { return .notHolding }
        var request = request
        request.deadlineAtMs = Int64(Date.now.timeIntervalSince1970 * 1000) + timeoutMs
        return .reply(NodeLinks.response(await local.relay(provider, request, timeoutMs: timeoutMs)))
    }

    /// Binds `[node] listen` with the node certificate, admitting node certificates only.
    func bindListener(_ config: DaemonConfig, group: any EventLoopGroup) async throws -> any Channel {
        let tls = try TLSContext.nodeServer(TLSConfiguration(certificateChainPath: settings.certificate, privateKeyPath: settings.privateKey,
                                                             trustRootsPath: config.tls.caBundle, crlPath: config.tls.crl))
        let limits = CoreComponents.limits(config)
        let logger = self.logger
        let relay: NodeConnectionHandler.Relay = { [self] provider, request, timeoutMs in
            await relayForwarded(provider, request, timeoutMs: timeoutMs)
        }
        return try await Listener.bind(.tcp(host: settings.listen.host, port: settings.listen.port), group: group) { channel in
            channel.eventLoop.makeCompletedFuture {
                try Pipelines.configure(channel, tls: tls, role: .server, limits: limits,
                                        application: NodeConnectionHandler(relay: relay, logger: logger))
            }
        }
    }

    // MARK: events

    /// The dispatcher's read in a cluster: claim (lease) the receiver's due events for this node.
    func claim(_ events: EventService) -> EventDispatcher.Claim {
        { [store, settings] orgCode, limit in
            let now = events.currentTimeMs()
            do {
                let rows = try await store.claimEvents(orgCode: orgCode, node: settings.name, dueBy: now,
                                                       leaseUntilMs: now + Self.eventClaimMs, limit: limit)
                return .success(try rows.map { ($0.position, try events.event($0)) })
            } catch {
                return .failure(Refusal(.unavailable, "events: \(error)"))
            }
        }
    }

    // MARK: status

    func statusNodes() async -> [LCClusterNodeStatus] {
        guard let rows = try? await store.clusterNodes() else { return [] }
        return rows.map { row in
            LCClusterNodeStatus.with {
                $0.name = row.name; $0.address = row.address; $0.heartbeatAgeMs = row.heartbeatAgeMs
                $0.leaseLeftMs = row.leaseLeftMs; $0.orgs = row.orgs
            }
        }
    }
}

/// Mediation's way to B in a cluster: B's connection here if it has one, else the node that
/// holds it. `reachable` answers from memory (the last heartbeat), never the database.
struct ClusterProviderGateway: ProviderGateway {
    let cluster: ClusterNode

    func reachable(_ providerOrg: String) -> Bool {
        cluster.local.reachable(providerOrg) || cluster.knows(providerOrg)
    }

    func ask(_ providerOrg: String, _ request: ProvideRequest, timeoutMs: Int64) async -> ProviderReply {
        if cluster.local.reachable(providerOrg) { return await cluster.local.ask(providerOrg, request, timeoutMs: timeoutMs) }
        guard let node = await cluster.holder(of: providerOrg) else { return .unavailable }
        return await cluster.links.ask(node, providerOrg: providerOrg, request.wire, timeoutMs: timeoutMs)
    }
}
