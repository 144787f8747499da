import Foundation
import LinkcoreClient
import LinkcoreConfig
import LinkcoreJPKI
import LinkcoreLifecycle
import LinkcoreSystemd
import LinkcoreTLS
import LinkcoreTransport
import LinkcoreWire
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// What `linkcore-jpki serve` runs with (its command line, checked).
struct VerifierSettings: Sendable {
    var directory: String
    var listen: ListenAddress
    var certificate: String
    var privateKey: String
    var networkCA: String
    var crl: String?
    var core: ListenAddress
    var coreServerName: String
    var coreCertificate: String
    var coreKey: String
    var licenceCachePeriod: Duration
    var coreRequestTimeout: Duration
    var coreRetryInterval: Duration
    var drainTimeout: Duration
    /// `--core` as a list (several core nodes, in order of preference); empty: `core` alone.
    var coreAddresses: [ListenAddress] = []
}

/// The running card authority service for verifiers: its mutual-TLS listener (the project's own
/// transport: frames, Hello/Welcome, the core's session rules), its link to the core, systemd
/// notifications and the drain, as one `ServiceGroup` (`ProcessLifecycle`).
final class VerifierServer: Sendable {
    private let settings: VerifierSettings
    private let group: MultiThreadedEventLoopGroup
    private let notifier = SystemdNotifier()
    private let metrics = Metrics()
    private let figures = VerifierFigures()
    private let registry: ConnectionRegistry
    private let core: ReconnectingConnection
    private let service: VerifierService
    private let serverTLS: TLSContext
    private let logger: Logger
    private let listeners = Mutex<[any Channel]>([])

    /// Opens the store and loads the TLS material; every failure here is a configuration error.
    init(settings: VerifierSettings, logger: Logger) throws {
        let database = settings.directory + "/authority.db"
        guard FileManager.default.fileExists(atPath: database) else {
            throw VerifierError.directory(settings.directory, "no authority.db; issue a card first (linkcore-jpki issue)")
        }
        let store = try CardAuthorityStore(path: database)
        serverTLS = try TLSContext.server(TLSConfiguration(
            certificateChainPath: settings.certificate, privateKeyPath: settings.privateKey,
            trustRootsPath: settings.networkCA, crlPath: settings.crl))
        let clientTLS = try TLSContext.client(TLSConfiguration(
            certificateChainPath: settings.coreCertificate, privateKeyPath: settings.coreKey,
            trustRootsPath: settings.networkCA, crlPath: settings.crl, serverName: settings.coreServerName))
        self.settings = settings
        self.logger = logger
        group = MultiThreadedEventLoopGroup(numberOfThreads: min(System.coreCount, 4))
        registry = ConnectionRegistry(maxConnections: 10_000, maxPerOrg: 64, maxPerAddress: 256, maxAwaitingHello: 1024)
        let nodes = (settings.coreAddresses.isEmpty ? [settings.core] : settings.coreAddresses).map { CoreAddress(host: $0.host, port: $0.port) }
        core = ReconnectingConnection(
            addresses: CoreAddresses(nodes), tls: clientTLS,
            hello: LinkcoreConnection.defaultHello(software: "linkcore-jpki/0.1"), group: group)
        let licences = LicenceCheck(core: core, cachePeriod: settings.licenceCachePeriod,
                                    requestTimeout: .nanoseconds(Int64(settings.coreRequestTimeout / .nanoseconds(1))))
        service = VerifierService(store: store, issuedDirectory: settings.directory + "/issued", licences: licences,
                                  figures: figures, metrics: metrics, logger: logger)
    }

    /// Binds the listener. Verifiers may connect from here on; each request waits for the core.
    func bind() async throws {
        let environment = ConnectionEnvironment(
            coreID: "card-authority", limits: ConnectionLimits(), service: service, metrics: metrics, registry: registry, logger: logger)
        let serverTLS = serverTLS
        let address = settings.listen
        do {
            let channel = try await Listener.bind(
                .tcp(host: address.host, port: address.port), group: group,
                childOptions: { $0.childChannelOption(.writeBufferWaterMark, value: ConnectionLimits().writeBufferWaterMark) },
                childInitializer: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try Pipelines.configureServer(channel, tls: serverTLS, environment: environment)
                    }
                })
            listeners.withLock { $0 = [channel] }
            // Scripts and tests read the bound port (for port 0) from this line.
            let bound = ListenAddress(host: address.host, port: channel.localAddress?.port ?? address.port, family: address.family)
            logger.notice("linkcore-jpki listening on \(bound)")
        } catch {
            throw VerifierError.listen("\(address)", "\(error)")
        }
    }

    /// Connects to the core, again every `coreRetryInterval` while it is unreachable or refuses
    /// (say, before the operator registered the authority). Returns false when cancelled.
    func connectToCore() async -> Bool {
        var attempts = 0
        while !Task.isCancelled {
            attempts += 1
            do {
                try await core.connect()
                logger.info("connected to the core", metadata: ["core": "\(core.address)", "attempts": "\(attempts)"])
                return true
            } catch {
                let why = "waiting for the core at \(core.address) (attempt \(attempts)): \(error)"
                if attempts == 1 || attempts % 30 == 0 { logger.warning("\(why)") }
                notifier.status(why)
                do { try await Task.sleep(for: settings.coreRetryInterval) } catch { return false }
            }
        }
        return false
    }

    /// Listens, then serves until SIGTERM or SIGINT; READY=1 once the core answered (before,
    /// every request would be UNAVAILABLE), STOPPING=1 and the drain at the end.
    func run() async throws {
        try await bind()
        let hangup = await HangupService.trap { [logger] in
            logger.notice("SIGHUP ignored: restart linkcore-jpki to apply changed settings")
        }
        let linked = ReadinessGate()
        let (notifier, settings, registry) = (notifier, settings, registry)
        let services: [any Service] = [
            ListenerService.draining(listeners.withLock { $0 }, registry: registry,
                                     drainTimeout: { settings.drainTimeout }, logger: logger),
            BackgroundService("core link") { [self] in
                if await connectToCore() { linked.open() }
            },
            SystemdNotifyService.statusRefresher(notifier, every: SystemdNotifyService.statusPeriod(notifier, preferred: .seconds(1)),
                                                 startAfter: linked) { [self] in await statusLine() },
            SystemdNotifyService.watchdog(notifier, startAfter: linked),
            hangup,
            SystemdNotifyService(notifier: notifier, startAfter: linked, readyStatus: { [self] in
                logger.info("linkcore-jpki ready", metadata: ["core": "\(core.address)"])
                return await statusLine()
            }, stoppingStatus: { [self] in
                "draining \(registry.count) connections; " + (await statusLine())
            }),
        ]
        await ProcessLifecycle.run(services, drainTimeout: settings.drainTimeout, logger: logger)
        await close()
        let f = figures.snapshot
        logger.info("linkcore-jpki stopped", metadata: ["answered": "\(f.answered)", "refused": "\(f.refused)", "unavailable": "\(f.unavailable)"])
    }

    func statusLine() async -> String {
        let f = figures.snapshot
        return "\(registry.count) connections, \(f.answered) answered, \(f.refused) refused, \(f.unavailable) unavailable; "
            + "core \(core.address) \(await core.isConnected ? "linked" : "not linked")"
    }

    func close() async {
        for channel in listeners.withLock({ $0 }) { try? await channel.close() }
        await core.close()
        try? await group.shutdownGracefully()
    }
}

enum VerifierError: Error, CustomStringConvertible {
    case directory(String, String)
    case listen(String, String)

    var description: String {
        switch self {
        case let .directory(path, why): return "cannot use the authority's directory \(path): \(why)"
        case let .listen(address, why): return "cannot listen on \(address): \(why)"
        }
    }
}
