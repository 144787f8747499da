import Foundation
import LinkcoreConfig
import LinkcoreDomain
import LinkcoreLinkCodes
import LinkcorePolicy
import LinkcoreStore
import LinkcoreTLS
import LinkcoreTransport
import Logging

/// The core's object graph, built once from a `DaemonConfig`: the composition root.
///
/// Everything here is what the core *is* (store, directory, domain services, policy, request
/// routing); nothing here is what a process *does* (sockets, signals, sd_notify, the service
/// group: see `Daemon`). So a test builds the whole core from a config with temporary paths and
/// drives it without a process. Each object exists once and is shared: one keyring and one
/// resident hasher (derived from the master secret, which is wiped as soon as they exist), one
/// `FeeStatements` for the admin socket and for organisations' own statements.
public final class CoreComponents: Sendable {
    public let live: LiveConfig
    let store: any CoreStore & EventStore & NoticeStore
    public let orgs: OrgDirectory
    public let registry: ConnectionRegistry
    /// The policy modules in force (whitelist, fees, events); see DaemonPolicy.swift.
    public let policy: PolicyHost
    let keyring: LinkCodeKeyring
    let hasher: ResidentHasher
    let links: LinkService
    let pusher: Pusher
    public let events: EventService
    let dispatcher: EventDispatcher
    let noticeDispatcher: NoticeDispatcher
    let metrics: Metrics
    let whitelist: CurrentWhitelist
    let fees: FeeStatements
    let audit: AuditService
    let keys: MediationKeyJanitor
    /// Routes the organisations' requests (the listeners' `RequestHandling`).
    let service: CoreService
    /// This node's part in a cluster (ClusterNode.swift); nil for a single node.
    let cluster: ClusterNode?
    /// The CRL warning last logged (so each is logged once, not at every tick).
    let crlLogged = CRLWarningLatch()
    /// The store problem last logged (CoreComponents+StoreHealth.swift).
    let storeHealthLogged = StoreHealthLatch()
    /// What only the process knows (bound addresses, draining), reported by STATUS.
    let serving = ServingState()
    let logger: Logger

    /// Loads the TLS material, opens the store (running migrations), reads the master secret and
    /// loads the policy modules and the whitelist table.
    public init(config: DaemonConfig, logger: Logger) async throws {
        let tls = try Self.makeTLS(config)
        let store = try await StoreOpener.open(config, logger: logger)
        // The witness lives beside the state, outside the database; its directory must exist
        // even when [store] path points elsewhere (a failure shows as a refusal to sign).
        try? FileManager.default.createDirectory(atPath: (config.auditWitnessPath as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var secret = try MasterSecret.load(try config.keys.masterSecret.resolvePath())
        // Only the derived keys are kept (and wiped when freed); the secret itself goes as soon
        // as they exist, so it is not in the heap for the process's lifetime.
        defer { secret.wipe() }
        // One keyring and one hasher, shared by the link and the event services.
        let keyring = try LinkCodeKeyring(masterSecret: secret)
        let hasher = try ResidentHasher(masterSecret: secret)
        let orgs = try await OrgDirectory(store: store)
        let registry = ConnectionRegistry(
            maxConnections: config.limits.maxConnections, maxPerOrg: config.limits.maxConnectionsPerOrg,
            maxPerAddress: config.limits.maxConnectionsPerAddress, maxAwaitingHello: config.limits.maxConnectionsAwaitingHello)
        let policy = PolicyHost(logger: logger)
        try DaemonPolicy.load(config, into: policy)
        let policyFailures = PolicyFailureLog(logger: logger)
        // Charges dated so that a step back of the clock does not reopen a month the ledger left.
        let tariff = DatedTariff(ModuleTariff(policy: policy, failures: policyFailures))
        let links = LinkService(store: store, keyring: keyring, hasher: hasher, orgs: orgs, tariff: tariff)
        let pusher = Pusher(registry: registry)
        // Idempotency keys' windows and change events' release times: on a clock that a step of
        // the wall clock cannot make run ahead (docs/reliability.md, "The clock jumps").
        let keyClock = StepSafeClock()
        let events = EventService(store: store, keyring: keyring, hasher: hasher, orgs: orgs,
                                  routing: ModuleEventRouting(policy: policy, failures: policyFailures), tariff: tariff,
                                  batchMinuteUTC: config.events.dailyBatchMinuteUTC, deliveryWindowMs: config.events.deliveryWindowMs,
                                  releaseClock: keyClock)
        let localProviders = PushProviderGateway(pusher: pusher)
        // Several nodes ([node] on PostgreSQL): presence, forwarding, claimed events; nil alone.
        let cluster = try ClusterNode.make(config, store: store, registry: registry, orgs: orgs,
                                         local: localProviders, logger: logger)
        let dispatcher = EventDispatcher(events: events, pusher: pusher, logger: logger, claim: cluster?.claim(events))
        let metrics = Metrics()
        let whitelist = CurrentWhitelist(try Self.loadWhitelist(config.mediation.whitelist, logger: logger))
        let fees = FeeStatements(store: store, orgs: orgs)
        let moduleWhitelist = ModuleWhitelist(policy: policy, builtin: whitelist, failures: policyFailures)
        let mediator = Mediator(
            store: store, links: links, whitelist: moduleWhitelist,
            providers: cluster.map { ClusterProviderGateway(cluster: $0) as any ProviderGateway } ?? localProviders, tariff: tariff,
            settings: Self.mediationSettings(config), keyClock: keyClock)
        // Notices are decided by the same whitelist as mediations (rows with bp_id NOTICE).
        let notices = NoticeService(store: store, links: links, whitelist: moduleWhitelist)
        let noticeDispatcher = NoticeDispatcher(notices: notices, pusher: pusher, logger: logger)
        var service = CoreService(links: links, mediator: mediator, accessLog: AccessLogService(store: store, links: links),
                                  pusher: pusher, events: events, dispatcher: dispatcher, notices: notices,
                                  noticeDispatcher: noticeDispatcher,
                                  // Sign-in links (issue 15, item 6): whitelist rows with bp_id SIGNIN.
                                  serviceLinks: ServiceLinkService(store: store, links: links,
                                                                   whitelist: moduleWhitelist, tariff: tariff),
                                  fees: fees,
                                  metrics: metrics, logger: logger)
        service.faults = FaultInjection.fromEnvironment(logger: logger)
        self.keyring = keyring
        self.hasher = hasher
        self.orgs = orgs
        self.registry = registry
        self.policy = policy
        self.links = links
        self.pusher = pusher
        self.events = events
        self.dispatcher = dispatcher
        self.noticeDispatcher = noticeDispatcher
        self.metrics = metrics
        self.whitelist = whitelist
        self.fees = fees
        self.service = service
        self.store = store
        self.cluster = cluster
        audit = AuditService(store: store, logger: logger)
        keys = MediationKeyJanitor(store: store, logger: logger, clock: keyClock)
        live = LiveConfig(config: config, tls: tls)
        self.logger = logger
    }

    static func makeTLS(_ config: DaemonConfig) throws -> TLSContext {
        try TLSContext.server(TLSConfiguration(
            certificateChainPath: config.tls.certificate,
            privateKeyPath: config.tls.privateKey,
            trustRootsPath: config.tls.caBundle,
            crlPath: config.tls.crl))
    }

    /// What a new connection gets: the limits and TLS context in force now (a reload changes
    /// them for new connections only).
    func connectionSetup() -> (tls: TLSContext, environment: ConnectionEnvironment) {
        let (config, tls) = (live.config, live.tls)
        return (tls, ConnectionEnvironment(coreID: config.core.id, limits: Self.limits(config), service: service,
                                           metrics: metrics, registry: registry, logger: logger))
    }

    // MARK: reload

    /// Re-reads the config file, certificates, CRL, the whitelist table and the policy modules.
    /// New connections use them; established connections keep the TLS session they have (but
    /// those a new CRL revokes are ended). On any error the running set stays in force.
    func reload(configPath: String) -> Result<Void, ReloadFailure> {
        do {
            let config = try DaemonConfig.load(path: configPath)
            let tls = try Self.makeTLS(config)
            let builtin = try Self.loadWhitelist(config.mediation.whitelist, logger: logger)
            // Last step that can fail: the new policy set is swapped in only when every module loaded.
            try DaemonPolicy.load(config, into: policy)
            whitelist.replace(with: builtin)
            events.setDeliveryWindow(ms: config.events.deliveryWindowMs)
            let old = live.replace(config: config, tls: tls)
            if old.listen.addresses != config.listen.addresses || old.listen.adminSocket != config.listen.adminSocket {
                logger.warning("listen addresses changed in the config: they take effect at the next restart")
            }
            endRevokedSessions(crlPath: config.tls.crl)
            logger.info("reload complete")
            return .success(())
        } catch {
            let message = "\(error)"
            live.recordReloadFailure(message)
            logger.error("reload failed; the previous configuration stays in force", metadata: ["error": "\(message)"])
            return .failure(ReloadFailure(message: message))
        }
    }

    // MARK: audit

    /// Signs a checkpoint over the access log as it is now; `notify` hears the STATUS line at
    /// once when signing was refused (news for `systemctl status`, not for the next tick).
    func signCheckpoint(notify: @Sendable (String) -> Void) async {
        await audit.checkpoint(AuditService.Signing(live.config))
        if audit.health.snapshot.problem != nil { notify(statusLine()) }
    }

    func warnAboutCRL() {
        guard let (warning, expired) = newCRLWarning() else { return }
        if expired {
            logger.error("CRL expired", metadata: ["warning": "\(warning)"])
        } else {
            logger.warning("CRL runs out soon", metadata: ["warning": "\(warning)"])
        }
    }
}

public struct ReloadFailure: Error, Sendable {
    public var message: String
}

public enum DaemonError: Error, CustomStringConvertible {
    case listen(String, String)
    case store(String, String)
    /// The database could not be reached at start (retryable: exit 75, restarted by systemd).
    case storeUnavailable(String, String)

    public var description: String {
        switch self {
        case let .listen(target, error): return "cannot listen on \(target): \(error)"
        case let .store(path, error): return "cannot open the store at \(path): \(error)"
        case let .storeUnavailable(database, error): return "cannot reach the store at \(database): \(error)"
        }
    }
}
