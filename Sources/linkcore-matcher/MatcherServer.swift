import Foundation
import LinkcoreClient
import LinkcoreConfig
import LinkcoreLifecycle
import LinkcoreMetrics
import LinkcoreRegistry
import LinkcoreSystemd
import LinkcoreTLS
import LinkcoreTransport
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The running matching authority: listeners for organisations, the link to the core, systemd
/// notifications and the drain. Wires config, registry, transport and systemd together.
final class MatcherServer: Sendable {
    private let config: MatcherConfig
    private let group: MultiThreadedEventLoopGroup
    private let notifier = SystemdNotifier()
    private let metrics: Metrics
    private let figures = MatcherFigures()
    private let registry: ConnectionRegistry
    private let core: CoreLink
    private let service: MatcherService
    private let forwarder: ChangeForwarder
    private let serverTLS: TLSContext
    /// The CRL warning last logged (each state once, not every second).
    private let crlLogged = CRLWarningLatch()
    private let logger: Logger
    private let listeners = Mutex<[any Channel]>([])

    /// Opens the registry and loads the TLS material; every failure here is a configuration error.
    init(config: MatcherConfig, logger: Logger) throws {
        guard FileManager.default.fileExists(atPath: config.registry.path) else {
            throw MatcherError.registry(
                config.registry.path,
                "no such file; create it with `linkcore-matcher registry generate` or `registry import` ([registry] path in \(config.file))")
        }
        let store: RegistryStore
        do {
            store = try RegistryStore(path: config.registry.path)
        } catch {
            throw MatcherError.registry(config.registry.path, "\(error)")
        }
        serverTLS = try TLSContext.server(TLSConfiguration(
            certificateChainPath: config.tls.certificate, privateKeyPath: config.tls.privateKey,
            trustRootsPath: config.tls.caBundle, crlPath: config.tls.crl))
        let clientTLS = try TLSContext.client(TLSConfiguration(
            certificateChainPath: config.core.clientCertificate, privateKeyPath: config.core.clientKey,
            trustRootsPath: config.core.caBundle, crlPath: config.core.crl, serverName: config.core.serverName))
        self.config = config
        self.logger = logger
        group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        registry = ConnectionRegistry(maxConnections: config.limits.maxConnections, maxPerOrg: config.limits.maxConnectionsPerOrg,
                                      maxPerAddress: config.limits.maxConnectionsPerAddress,
                                      maxAwaitingHello: config.limits.maxConnectionsAwaitingHello)
        core = CoreLink(addresses: CoreAddresses(config.core.connectAddresses.map { CoreAddress(host: $0.host, port: $0.port) }), tls: clientTLS, group: group,
                        requestTimeout: Self.timeAmount(config.core.requestTimeout))
        let metrics = Metrics()
        self.metrics = metrics
        let cards = try Self.cardLinks(config.card, store: store, logger: logger)
        service = MatcherService(
            matcher: Matcher(store: store, ticketLifetime: config.matching.matchingNumberLifetime / .seconds(1)),
            core: core, figures: figures, metrics: metrics,
            failedMatches: FailedMatchLimiter(limit: config.matching.maxFailedMatches, window: config.matching.failedMatchWindow),
            cards: cards, logger: logger)
        forwarder = ChangeForwarder(store: store, core: core, logger: logger)
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(Int64(duration / .nanoseconds(1)))
    }

    var limits: ConnectionLimits {
        let l = config.limits
        return ConnectionLimits(
            maxFrameBytes: l.maxFrameBytes, maxInFlight: l.maxInFlight, frameTimeout: Self.timeAmount(l.frameTimeout),
            idleTimeout: Self.timeAmount(l.idleTimeout), keepalive: Self.timeAmount(l.keepalive),
            handshakeTimeout: Self.timeAmount(config.tls.handshakeTimeout), writeBufferHighBytes: l.writeBufferHighBytes,
            maxOutboundBytes: l.maxOutboundBytes, closeTimeout: Self.timeAmount(l.closeTimeout),
            writeStallTimeout: Self.timeAmount(l.writeStallTimeout))
    }

    // MARK: start

    /// Binds every listen address. Organisations may connect from here on; their requests wait
    /// for the core like any issuance does.
    func bind() async throws {
        let environment = ConnectionEnvironment(
            coreID: "matcher", limits: limits, service: service, metrics: metrics, registry: registry, logger: logger)
        let serverTLS = serverTLS
        var bound: [any Channel] = []
        for address in config.listen.addresses {
            do {
                let channel = try await Listener.bind(
                    .tcp(host: address.host, port: address.port), group: group,
                    childOptions: { [limits] in $0.childChannelOption(.writeBufferWaterMark, value: limits.writeBufferWaterMark) },
                    childInitializer: { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try Pipelines.configureServer(channel, tls: serverTLS, environment: environment)
                        }
                    })
                bound.append(channel)
                // Scripts and tests read the bound port (for port 0) from this line.
                let bound = ListenAddress(host: address.host, port: channel.localAddress?.port ?? address.port, family: address.family)
                logger.notice("linkcore-matcher listening on \(bound)")
            } catch {
                for channel in bound { try? await channel.close() }
                throw MatcherError.listen("\(address)", "\(error)")
            }
        }
        listeners.withLock { $0 = bound }
    }

    /// Connects to the core, trying again every `[core] retry_interval_ms` while it is unreachable
    /// or refuses (say, before the operator registered the matcher). Returns false when cancelled.
    func connectToCore() async -> Bool {
        var attempts = 0
        while !Task.isCancelled {
            attempts += 1
            do {
                try await core.connect()
                if Task.isCancelled { return false }
                logger.info("connected to the core", metadata: ["core": "\(core.address)", "attempts": "\(attempts)"])
                return true
            } catch {
                let why = "waiting for the core at \(core.addressList) (attempt \(attempts)): \(error)"
                if attempts == 1 || attempts % 30 == 0 { logger.warning("\(why)") }
                notifier.status(why)
                do { try await Task.sleep(for: config.core.retryInterval) } catch { return false }
            }
        }
        return false
    }

    // MARK: run

    /// Starts listening, then serves as one `ServiceGroup` until SIGTERM or SIGINT: links to the
    /// core, tells systemd it is ready once the core answered, forwards the registry's changes;
    /// then drains. A stop while the core is still unreachable ends the wait at once.
    func run() async throws {
        try await bind()
        // SIGHUP is not a reload (the matcher has none), but its default action would kill it.
        let hangup = await HangupService.trap { [logger] in
            logger.notice("SIGHUP ignored: restart linkcore-matcher to apply a changed configuration")
        }
        await ProcessLifecycle.run(services(hangup: hangup), drainTimeout: config.shutdown.drainTimeout, logger: logger)
        await close()
        let f = figures.snapshot
        logger.info("linkcore-matcher stopped", metadata: ["served": "\(f.served)", "refused": "\(f.refused)"])
    }

    /// Stopped in reverse order: STOPPING=1 first, then SIGHUP, watchdog, STATUS and change
    /// forwarding, then the wait for the core (if still waiting), then the listeners close and
    /// the organisations' connections drain (in-flight matches still reach the core).
    private func services(hangup: HangupService) -> [any Service] {
        let linked = ReadinessGate()
        let (notifier, core, config) = (notifier, core, config)
        // [metrics] listen: the scrape endpoint stops last, after the drain.
        let metrics: [any Service] = config.metrics.listen.map {
            [MetricsEndpoint(host: $0.host, port: $0.port, logger: logger).loggingFailures]
        } ?? []
        return metrics + [
            ListenerService.draining(listeners.withLock { $0 }, registry: registry,
                                     drainTimeout: { config.shutdown.drainTimeout }, logger: logger),
            BackgroundService("core link") { [self] in
                if await connectToCore() { linked.open() }
            },
            // The registry's change log goes to the core as change events, in the background.
            BackgroundService("change forwarder", startAfter: linked) { [forwarder] in await forwarder.run() },
            SystemdNotifyService.statusRefresher(notifier, every: SystemdNotifyService.statusPeriod(notifier, preferred: .seconds(1)),
                                                 startAfter: linked) { [self] in
                warnAboutCRL()
                return statusLine(coreLinked: await core.isConnected)
            },
            SystemdNotifyService.watchdog(notifier, startAfter: linked),
            hangup,
            SystemdNotifyService(notifier: notifier, startAfter: linked, readyStatus: { [self] in
                warnAboutCRL()
                logger.info("linkcore-matcher ready", metadata: ["core": "\(core.address)"])
                return statusLine(coreLinked: true)
            }, stoppingStatus: { [self] in
                "draining \(registry.count) connections (up to \(Int(config.shutdown.drainTimeout / .milliseconds(1))) ms); "
                    + statusLine(coreLinked: await core.isConnected)
            }),
        ]
    }

    /// Closes the core link, whatever listener is still open and the event loops: after the
    /// services have stopped, or after a failed start.
    func close() async {
        for channel in listeners.withLock({ $0 }) { try? await channel.close() }
        await core.close()
        try? await group.shutdownGracefully()
    }

    func statusLine(coreLinked: Bool) -> String {
        let f = figures.snapshot
        let m = metrics.snapshot()
        let crl = CRLFile.warning(path: config.tls.crl, warnBefore: config.tls.crlWarnBefore).warning.map { "; CRL: \($0)" } ?? ""
        return "\(m.connections) connections, \(f.served) matches served, \(f.refused) refused "
            + "(\(f.noUniqueMatch) no unique match); core \(core.address) \(coreLinked ? "linked" : "not linked")" + crl
    }

    /// Logs a warning once per CRL state, from [tls] crl_warn_before_ms before its nextUpdate.
    private func warnAboutCRL() {
        guard let (warning, expired) = crlLogged.newWarning(path: config.tls.crl, warnBefore: config.tls.crlWarnBefore) else { return }
        if expired {
            logger.error("CRL expired", metadata: ["warning": "\(warning)"])
        } else {
            logger.warning("CRL runs out soon", metadata: ["warning": "\(warning)"])
        }
    }
}

enum MatcherError: Error, CustomStringConvertible {
    case registry(String, String)
    case listen(String, String)
    case card(String, String)

    var description: String {
        switch self {
        case let .registry(path, why): return "cannot open the registry \(path): \(why)"
        case let .listen(address, why): return "cannot listen on \(address): \(why)"
        case let .card(path, why): return "cannot use the card CA \(path) ([card] ca_bundle): \(why)"
        }
    }
}
