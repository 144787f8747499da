import Foundation
import LinkcoreConfig
import LinkcoreDomain
import LinkcoreLinkCodes
import LinkcorePolicy
import LinkcoreStore
import LinkcoreSystemd
import LinkcoreTLS
import LinkcoreTransport
import LinkcoreWire
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The running core: listeners, admin socket, systemd notifications, reload and drain.
/// Thin on purpose: it wires config, transport, systemd and the domain service together.
public final class Daemon: Sendable {
    public static let version = "0.1.0"

    private struct Live: Sendable {
        var config: DaemonConfig
        var tls: TLSContext
        var lastReloadAt: Date?
        var lastReloadError: String?
    }

    private let configPath: String
    private let live: Mutex<Live>
    private let group: MultiThreadedEventLoopGroup
    private let notifier = SystemdNotifier()
    private let metrics: Metrics
    let registry: ConnectionRegistry
    private let service: any RequestHandling
    let logger: Logger
    private let listeners = Mutex<[any Channel]>([])
    private let adminChannel = Mutex<(any Channel)?>(nil)
    private let stopping = Mutex(false)
    /// The CRL warning last logged (so each is logged once, not at every tick).
    let crlLogged = CRLWarningLatch()

    let orgs: OrgDirectory
    let audit: AuditService
    let fees: FeeStatements
    let events: EventService
    let dispatcher: EventDispatcher
    private let whitelist: CurrentWhitelist
    private let keys: MediationKeyJanitor
    /// The policy modules in force (whitelist, fees, events); see DaemonPolicy.swift.
    public let policy: PolicyHost

    /// Loads TLS material, opens the store (running migrations) and the master secret.
    public static func make(configPath: String, config: DaemonConfig, logger: Logger) async throws -> Daemon {
        let tls = try makeTLS(config)
        let store: any CoreStore & EventStore
        do {
            store = try SQLiteCoreStore(path: config.store.path)
        } catch {
            throw DaemonError.store(config.store.path, "\(error)")
        }
        // The witness lives beside the state, outside the database; its directory must exist
        // even when [store] path points elsewhere (a failure shows as a refusal to sign).
        try? FileManager.default.createDirectory(atPath: (config.auditWitnessPath as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var secret = try MasterSecret.load(try config.keys.masterSecret.resolvePath())
        // Only the derived keys are kept (and wiped when freed); the secret itself goes as soon
        // as they exist, so it is not in the heap for the process's lifetime.
        defer { secret.wipe() }
        let orgs = try await OrgDirectory(store: store)
        let registry = ConnectionRegistry(
            maxConnections: config.limits.maxConnections, maxPerOrg: config.limits.maxConnectionsPerOrg,
            maxPerAddress: config.limits.maxConnectionsPerAddress, maxAwaitingHello: config.limits.maxConnectionsAwaitingHello)
        let policy = PolicyHost(logger: logger)
        try DaemonPolicy.load(config, into: policy)
        let policyFailures = PolicyFailureLog(logger: logger)
        let tariff = ModuleTariff(policy: policy, failures: policyFailures)
        let links = LinkService(
            store: store, keyring: try LinkCodeKeyring(masterSecret: secret),
            hasher: try ResidentHasher(masterSecret: secret), orgs: orgs, tariff: tariff)
        let pusher = Pusher(registry: registry)
        let events = EventService(store: store, keyring: try LinkCodeKeyring(masterSecret: secret),
                                  hasher: try ResidentHasher(masterSecret: secret), orgs: orgs,
                                  routing: ModuleEventRouting(policy: policy, failures: policyFailures), tariff: tariff,
                                  batchMinuteUTC: config.events.dailyBatchMinuteUTC, deliveryWindowMs: config.events.deliveryWindowMs)
        let dispatcher = EventDispatcher(events: events, pusher: pusher, logger: logger)
        let metrics = Metrics()
        let whitelist = CurrentWhitelist(try loadWhitelist(config.mediation.whitelist, logger: logger))
        let mediator = Mediator(
            store: store, links: links, whitelist: ModuleWhitelist(policy: policy, builtin: whitelist, failures: policyFailures),
            providers: PushProviderGateway(pusher: pusher), tariff: tariff, settings: mediationSettings(config))
        var service = CoreService(links: links, mediator: mediator, accessLog: AccessLogService(store: store, links: links),
                                  pusher: pusher, events: events, dispatcher: dispatcher, fees: FeeStatements(store: store, orgs: orgs),
                                  metrics: metrics, logger: logger)
        service.faults = FaultInjection.fromEnvironment(logger: logger)
        return Daemon(configPath: configPath, config: config, tls: tls, orgs: orgs, audit: AuditService(store: store, logger: logger),
                      fees: FeeStatements(store: store, orgs: orgs), registry: registry, service: service,
                      events: events, dispatcher: dispatcher, metrics: metrics, whitelist: whitelist, policy: policy,
                      keys: MediationKeyJanitor(store: store, logger: logger), logger: logger)
    }

    private init(configPath: String, config: DaemonConfig, tls: TLSContext, orgs: OrgDirectory, audit: AuditService,
                 fees: FeeStatements, registry: ConnectionRegistry, service: any RequestHandling,
                 events: EventService, dispatcher: EventDispatcher, metrics: Metrics,
                 whitelist: CurrentWhitelist, policy: PolicyHost, keys: MediationKeyJanitor, logger: Logger) {
        self.keys = keys
        self.events = events
        self.dispatcher = dispatcher
        self.configPath = configPath
        self.audit = audit
        self.fees = fees
        self.whitelist = whitelist
        self.metrics = metrics
        self.policy = policy
        self.logger = logger
        self.service = service
        self.orgs = orgs
        self.live = Mutex(Live(config: config, tls: tls))
        self.registry = registry
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
    }

    static func makeTLS(_ config: DaemonConfig) throws -> TLSContext {
        try TLSContext.server(TLSConfiguration(
            certificateChainPath: config.tls.certificate,
            privateKeyPath: config.tls.privateKey,
            trustRootsPath: config.tls.caBundle,
            crlPath: config.tls.crl))
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    static func limits(_ config: DaemonConfig) -> ConnectionLimits {
        let l = config.limits
        return ConnectionLimits(
            maxFrameBytes: l.maxFrameBytes,
            maxInFlight: l.maxInFlight,
            frameTimeout: timeAmount(l.frameTimeout),
            idleTimeout: timeAmount(l.idleTimeout),
            keepalive: timeAmount(l.keepalive),
            handshakeTimeout: timeAmount(config.tls.handshakeTimeout),
            writeBufferHighBytes: l.writeBufferHighBytes,
            maxOutboundBytes: l.maxOutboundBytes,
            closeTimeout: timeAmount(l.closeTimeout))
    }

    // MARK: start

    /// Binds every listener and the admin socket, then tells systemd the core is ready.
    public func start() async throws {
        let config = live.withLock { $0.config }
        let inherited = SocketActivation.inheritedSockets()
        let targets: [ListenTarget] = inherited.isEmpty
            ? config.listen.addresses.map { .tcp(host: $0.host, port: $0.port) }
            : inherited.map { .inherited(fd: $0.fd, name: $0.name) }
        var bound: [any Channel] = []
        for target in targets {
            do {
                let channel = try await Listener.bind(
                    target, group: group,
                    childOptions: { [limits = Self.limits(config)] in
                        $0.childChannelOption(.writeBufferWaterMark, value: limits.writeBufferWaterMark)
                    },
                    childInitializer: { [self] channel in self.initializeConnection(channel) })
                bound.append(channel)
                logger.info("listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "\(target)")"])
            } catch {
                for channel in bound { try? await channel.close() }
                throw DaemonError.listen("\(target)", "\(error)")
            }
        }
        listeners.withLock { $0 = bound }
        try await startAdmin(path: config.listen.adminSocket)
        warnAboutCRL()
        notifier.ready(status: statusLine())
        logger.info("linkcored ready", metadata: ["version": "\(Self.version)", "core_id": "\(config.core.id)"])
    }

    private func initializeConnection(_ channel: any Channel) -> EventLoopFuture<Void> {
        let (config, tls) = live.withLock { ($0.config, $0.tls) }
        let limits = Self.limits(config)
        let environment = ConnectionEnvironment(
            coreID: config.core.id, limits: limits, service: service, metrics: metrics, registry: registry, logger: logger)
        return channel.eventLoop.makeCompletedFuture {
            try Pipelines.configureServer(channel, tls: tls, environment: environment)
        }
    }

    private func startAdmin(path: String) async throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let admin = AdminService(daemon: self)
        let logger = self.logger
        // Bound under umask 0177, so the socket file is 0600 from the moment it exists; a chmod
        // after bind left a window in which anyone who could reach the directory could connect.
        // umask is per process: start() binds before anything else runs that creates files.
        let previousMask = umask(0o177)
        defer { umask(previousMask) }
        do {
            let channel = try await Listener.bind(.unix(path: path), group: group) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Pipelines.configure(channel, tls: nil, role: .server, limits: ConnectionLimits(),
                                            application: AdminConnectionHandler(admin: admin, logger: logger))
                }
            }
            adminChannel.withLock { $0 = channel }
        } catch {
            throw DaemonError.listen("admin socket \(path)", "\(error)")
        }
    }

    // MARK: run loop

    /// Serves until SIGTERM or SIGINT, reloading on SIGHUP, pinging the watchdog and refreshing
    /// STATUS; then drains and returns.
    public func run() async {
        let signals = SignalStream.make([SIGHUP, SIGTERM, SIGINT])
        let ticker = Task { [self] in await tick() }
        let checkpointer = Task { [self] in await checkpointLoop() }
        let eventSweeper = Task { [self] in await dispatcher.sweepLoop { self.live.withLock { $0.config.events.sweepInterval } } }
        let keyPurger = Task { [self] in await keys.purgeLoop { self.live.withLock { $0.config.mediation.idempotencyWindow } } }
        for await signal in signals {
            if signal == SIGHUP {
                await reload()
            } else {
                logger.info("shutdown requested", metadata: ["signal": "\(signal)"])
                break
            }
        }
        ticker.cancel()
        checkpointer.cancel()
        eventSweeper.cancel()
        await dispatcher.stop()
        keyPurger.cancel()
        await shutdown()
    }

    private func checkpointLoop() async {
        // At once first: a log without a witness yet (first start, upgrade) is verified and gets one.
        await signCheckpoint()
        while !Task.isCancelled {
            let interval = live.withLock { $0.config.audit.checkpointInterval }
            try? await Task.sleep(for: interval)
            await signCheckpoint()
        }
    }

    func signCheckpoint() async {
        await audit.checkpoint(AuditService.Signing(currentConfig))
        // A refusal is news for systemctl status at once, not at the next tick.
        if audit.health.snapshot.problem != nil { notifier.status(statusLine()) }
    }

    private func tick() async {
        let watchdog = notifier.watchdogInterval
        let period = min(watchdog.map { $0 / 2 } ?? .seconds(5), .seconds(5))
        while !Task.isCancelled {
            try? await Task.sleep(for: period)
            if watchdog != nil { notifier.watchdog() }
            warnAboutCRL()
            notifier.status(statusLine())
        }
    }

    // MARK: reload

    /// Re-reads the config file, certificates, CRL and the whitelist table. New connections use them; established
    /// connections keep the TLS session they have. On any error the running set stays in force.
    @discardableResult
    public func reload() async -> Result<Void, ReloadFailure> {
        notifier.reloading()
        logger.info("reloading configuration and certificates")
        let result: Result<Void, ReloadFailure>
        do {
            let config = try DaemonConfig.load(path: configPath)
            let tls = try Self.makeTLS(config)
            let builtin = try Self.loadWhitelist(config.mediation.whitelist, logger: logger)
            // Last step that can fail: the new policy set is swapped in only when every module loaded.
            try DaemonPolicy.load(config, into: policy)
            whitelist.replace(with: builtin)
            events.setDeliveryWindow(ms: config.events.deliveryWindowMs)
            let old = live.withLock { live -> DaemonConfig in
                let old = live.config
                live.config = config
                live.tls = tls
                live.lastReloadAt = Date()
                live.lastReloadError = nil
                return old
            }
            if old.listen.addresses != config.listen.addresses || old.listen.adminSocket != config.listen.adminSocket {
                logger.warning("listen addresses changed in the config: they take effect at the next restart")
            }
            endRevokedSessions(crlPath: config.tls.crl)
            logger.info("reload complete")
            result = .success(())
        } catch {
            let message = "\(error)"
            live.withLock { $0.lastReloadAt = Date(); $0.lastReloadError = message }
            logger.error("reload failed; the previous configuration stays in force", metadata: ["error": "\(message)"])
            result = .failure(ReloadFailure(message: message))
        }
        warnAboutCRL()
        notifier.ready(status: statusLine())
        return result
    }

    // MARK: shutdown

    /// Stops accepting, asks every peer to go away, waits for in-flight requests up to the drain
    /// timeout, then closes whatever is left.
    public func shutdown() async {
        guard stopping.withLock({ let was = $0; $0 = true; return !was }) else { return }
        let drainTimeout = live.withLock { $0.config.shutdown.drainTimeout }
        notifier.stopping(status: "draining \(registry.count) connections (up to \(Int(drainTimeout / .milliseconds(1))) ms)")
        for channel in listeners.withLock({ $0 }) { try? await channel.close() }
        let forced = await registry.drain(within: drainTimeout)
        if forced > 0 {
            logger.warning("drain timeout: closed remaining connections", metadata: ["connections": "\(forced)"])
        }
        // Whatever was logged during the drain is covered by a last checkpoint.
        await signCheckpoint()
        if let admin = adminChannel.withLock({ $0 }) { try? await admin.close() }
        try? await group.shutdownGracefully()
        logger.info("linkcored stopped")
    }

    var currentConfig: DaemonConfig { live.withLock { $0.config } }

    private func warnAboutCRL() {
        guard let (warning, expired) = newCRLWarning() else { return }
        if expired {
            logger.error("CRL expired", metadata: ["warning": "\(warning)"])
        } else {
            logger.warning("CRL runs out soon", metadata: ["warning": "\(warning)"])
        }
    }

    // MARK: status

    func statusLine() -> String {
        let m = metrics.snapshot()
        let reloadError = live.withLock { $0.lastReloadError }
        var line = "\(m.connections) connections, \(String(format: "%.0f", m.requestsPerSecond)) req/s, p99 \(m.p99Micros) µs"
        if m.mediationsPerSecond > 0 {
            line += ", \(String(format: "%.0f", m.mediationsPerSecond)) mediations/s (p99 \(m.mediationP99Micros) µs)"
        }
        let refused = m.mediationOutcomes.filter { $0.key != .answered && $0.value > 0 }.sorted { $0.key.rawValue < $1.key.rawValue }
        if !refused.isEmpty {
            line += ", refused: " + refused.map { "\($0.key.label) \($0.value)" }.joined(separator: " ")
        }
        if let reloadError { line += "; last reload FAILED: \(reloadError)" }
        if let problem = audit.health.snapshot.problem { line += "; ACCESS LOG NOT SIGNED: \(problem)" }
        if let warning = crlState().warning { line += "; CRL: \(warning)" }
        return line
    }

    func status() -> LCStatus {
        let m = metrics.snapshot()
        let (config, reloadAt, reloadError) = live.withLock { ($0.config, $0.lastReloadAt, $0.lastReloadError) }
        var s = LCStatus()
        s.version = Self.version
        s.coreID = config.core.id
        s.startedAtMs = Int64(metrics.startedAt.timeIntervalSince1970 * 1000)
        s.listenAddresses = listeners.withLock { $0.compactMap { $0.localAddress.map { "\($0)" } } }
        s.connections = UInt32(clamping: m.connections)
        s.connectionsTotal = m.connectionsTotal
        s.handshakeFailures = m.handshakeFailures
        s.requestsTotal = m.requestsTotal
        s.inFlight = UInt32(clamping: max(0, m.inFlight))
        s.requestsPerSecond = m.requestsPerSecond
        s.p50Us = m.p50Micros
        s.p99Us = m.p99Micros
        s.mediationsPerSecond = m.mediationsPerSecond
        s.mediationP99Us = m.mediationP99Micros
        s.mediationOutcomes = m.mediationOutcomes.sorted { $0.key.rawValue < $1.key.rawValue }.map { outcome, count in
            var o = LCOutcomeCount(); o.outcome = outcome; o.count = count; return o
        }
        s.droppedProviderReplies = m.droppedProviderReplies
        s.errors = m.errors.sorted { $0.key.rawValue < $1.key.rawValue }.map { code, count in
            var e = LCErrorCount(); e.code = code; e.count = count; return e
        }
        s.draining = stopping.withLock { $0 }
        s.lastReloadMs = reloadAt.map { Int64($0.timeIntervalSince1970 * 1000) } ?? 0
        s.lastReloadError = reloadError ?? ""
        s.policyStatus = policy.statusLine
        let auditHealth = audit.health.snapshot
        s.auditSignRefusals = auditHealth.refusals
        s.auditProblem = auditHealth.problem ?? ""
        s.auditSignedPosition = auditHealth.signedPosition
        let crl = crlState()
        s.crlNextUpdateMs = crl.nextUpdate.map { Int64($0.timeIntervalSince1970 * 1000) } ?? 0
        s.crlWarning = crl.warning ?? ""
        s.peers = registry.entries.sorted { $0.connectedAt < $1.connectedAt }.map { e in
            var p = LCPeerStatus()
            p.orgCode = e.orgCode
            p.remoteAddress = e.remoteAddress
            p.connectedAtMs = Int64(e.connectedAt.timeIntervalSince1970 * 1000)
            p.requests = e.requests
            p.inFlight = UInt32(clamping: e.inFlight)
            return p
        }
        return s
    }
}

public struct ReloadFailure: Error, Sendable {
    public var message: String
}

public enum DaemonError: Error, CustomStringConvertible {
    case listen(String, String)
    case store(String, String)

    public var description: String {
        switch self {
        case let .listen(target, error): return "cannot listen on \(target): \(error)"
        case let .store(path, error): return "cannot open the store at \(path): \(error)"
        }
    }
}

/// The admin socket's requests, answered from the daemon's live state.
struct AdminService: AdminHandling {
    let daemon: Daemon

    func handle(_ request: LCEnvelope) async -> Result<LCEnvelope.OneOf_Body, WireError> {
        switch request.body {
        case .statusRequest?:
            var status = daemon.status()
            if let counts = await daemon.events.counts() {
                status.eventsQueued = counts.queued
                status.eventsDelivered = counts.delivered
                status.eventsPending = counts.pending
            }
            return .success(.status(status))
        case .reload?:
            var response = LCReloadResponse()
            switch await daemon.reload() {
            case .success: response.ok = true
            case let .failure(failure): response.error = failure.message
            }
            return .success(.reloadResponse(response))
        case let .orgAdd(add)?:
            return await daemon.orgs.add(NewOrganisation(wire: add.org), nowMs: Int64(Date().timeIntervalSince1970 * 1000))
                .wire { .orgResponse(LCOrgResponse().withOrg($0)) }
        case .orgList?:
            return .success(.orgListResponse(.with { $0.orgs = daemon.orgs.all.map(\.wire) }))
        case let .orgShow(show)?:
            guard let org = daemon.orgs[show.code] else {
                return .failure(WireError(.orgUnknown, "organisation \(show.code) is not registered"))
            }
            return .success(.orgResponse(LCOrgResponse().withOrg(org)))
        case let .orgSetSuspended(change)?:
            let result = await daemon.orgs.setSuspended(change.code, change.suspended)
            if case .success = result, change.suspended {
                // Suspension reaches open sessions at once, not only the next Hello.
                let ended = daemon.registry.endSessions(
                    with: WireError(.orgSuspended, "organisation \(change.code) is suspended"),
                    matching: { $0.orgCode == change.code })
                daemon.logger.info("organisation suspended", metadata: ["org": "\(change.code)", "sessions_ended": "\(ended)"])
            }
            return result.wire { .orgResponse(LCOrgResponse().withOrg($0)) }
        case .auditVerify?:
            return await daemon.audit.verify(AuditService.Signing(daemon.currentConfig)).map { .auditVerifyResponse($0) }
        case let .feesStatement(request)?:
            return await daemon.fees.statement(orgCode: request.orgCode, period: request.period).wire { .feesStatementResponse($0.wire) }
        case let .keysRotate(rotate)?:
            return await daemon.orgs.rotateKey(rotate.orgCode).wire { index in .keysRotateResponse(.with { $0.keyIndex = UInt32(index) }) }
        default:
            return .failure(WireError(.unknownMessage, "\(request.bodyName) is not an operator request served by this core"))
        }
    }
}

extension LCOrgResponse {
    func withOrg(_ org: Organisation) -> LCOrgResponse {
        var response = self
        response.org = org.wire
        return response
    }
}
