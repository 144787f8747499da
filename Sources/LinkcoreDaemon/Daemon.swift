import Foundation
import LinkcoreConfig
import LinkcoreLifecycle
import LinkcoreSystemd
import LinkcoreTransport
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The core as a process: its sockets (listeners, admin socket), its signals and systemd
/// notifications, and the one `ServiceGroup` that runs every background loop and stops them in
/// order. What the core is, independent of a process, is `CoreComponents`.
public final class Daemon: Sendable {
    public static let version = CoreComponents.version

    private let configPath: String
    public let core: CoreComponents
    private let group: MultiThreadedEventLoopGroup
    private let notifier = SystemdNotifier()
    private let logger: Logger
    var log: Logger { logger }
    private let listeners = Mutex<[any Channel]>([])
    private let adminChannel = Mutex<(any Channel)?>(nil)

    public static func make(configPath: String, config: DaemonConfig, logger: Logger) async throws -> Daemon {
        Daemon(configPath: configPath, core: try await CoreComponents(config: config, logger: logger), logger: logger)
    }

    private init(configPath: String, core: CoreComponents, logger: Logger) {
        self.configPath = configPath
        self.core = core
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
    }

    // MARK: start

    /// Binds every listener (or adopts the sockets systemd passed) and the admin socket.
    public func start() async throws {
        let config = core.live.config
        let inherited = SocketActivation.inheritedSockets()
        let targets: [ListenTarget] = inherited.isEmpty
            ? config.listen.addresses.map { .tcp(host: $0.host, port: $0.port) }
            : inherited.map { .inherited(fd: $0.fd, name: $0.name) }
        var bound: [any Channel] = []
        for target in targets {
            do {
                let channel = try await Listener.bind(
                    target, group: group,
                    childOptions: { [limits = CoreComponents.limits(config)] in
                        $0.childChannelOption(.writeBufferWaterMark, value: limits.writeBufferWaterMark)
                    },
                    childInitializer: { [core] channel in
                        // The TLS context and limits in force when the peer connects (a reload changes them).
                        let (tls, environment) = core.connectionSetup()
                        return channel.eventLoop.makeCompletedFuture {
                            try Pipelines.configureServer(channel, tls: tls, environment: environment)
                        }
                    })
                bound.append(channel)
                logger.info("listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "\(target)")"])
            } catch {
                for channel in bound { try? await channel.close() }
                throw DaemonError.listen("\(target)", "\(error)")
            }
        }
        if let cluster = core.cluster {
            do {
                bound.append(try await cluster.bindListener(config, group: group))
            } catch {
                for channel in bound { try? await channel.close() }
                throw DaemonError.listen("[node] listen \(cluster.settings.listen)", "\(error)")
            }
        }
        listeners.withLock { $0 = bound }
        core.serving.listenAddresses = bound.compactMap { $0.localAddress.map { "\($0)" } }
        try await startAdmin(path: config.listen.adminSocket)
        core.warnAboutCRL()
    }

    private func startAdmin(path: String) async throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let admin = AdminRequestHandler(core: core, reload: { [self] in await reload() })
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

    // MARK: run

    /// Serves until SIGTERM or SIGINT, reloading on SIGHUP; then stops every service in order
    /// (see `services`) and returns.
    public func run() async {
        let hangup = await HangupService.trap { [self] in await reload() }
        await ProcessLifecycle.run(services(hangup: hangup), drainTimeout: core.live.config.shutdown.drainTimeout, logger: logger)
        await close()
        logger.info("linkcored stopped")
    }

    /// The background services. ServiceGroup stops them in reverse order, each after the one
    /// after it has ended: STOPPING=1 first; then SIGHUP, watchdog, STATUS, event sweeps and
    /// idempotency-key purges stop; then the listeners close and the connections drain; then
    /// the checkpoint signer stops and signs the last checkpoint (which so covers whatever the
    /// drain logged, once); the admin socket, for `linkctl status` during the drain, closes last.
    private func services(hangup: HangupService) -> [any Service] {
        let core = self.core
        let notifier = self.notifier
        let notify: @Sendable (String) -> Void = { notifier.status($0) }
        return [
            ListenerService("admin socket", channels: adminChannel.withLock { $0.map { [$0] } ?? [] }),
        ] + metricsServices() + [
            core.checkpointSigner(notify: notify),
            ListenerService.draining(listeners.withLock { $0 }, registry: core.registry,
                                     drainTimeout: { core.live.config.shutdown.drainTimeout }, logger: logger),
            core.keyJanitor(),
        ] + (core.cluster.map { [$0.heartbeatService() as any Service] } ?? []) + [
            core.eventSweeper(),
            SystemdNotifyService.statusRefresher(notifier, every: SystemdNotifyService.statusPeriod(notifier, preferred: .seconds(5))) {
                core.warnAboutCRL()
                core.logStoreHealth()
                return core.statusLine()
            },
            SystemdNotifyService.watchdog(notifier),
            hangup,
            SystemdNotifyService(notifier: notifier, readyStatus: { [logger] in
                logger.info("linkcored ready", metadata: ["version": "\(Self.version)", "core_id": "\(core.live.config.core.id)"])
                return core.statusLine()
            }, stoppingStatus: {
                core.serving.draining = true
                let drain = core.live.config.shutdown.drainTimeout
                return "draining \(core.registry.count) connections (up to \(Int(drain / .milliseconds(1))) ms)"
            }),
        ]
    }

    // MARK: reload

    /// Reloads the configuration (see `CoreComponents.reload`) between RELOADING=1 and READY=1.
    @discardableResult
    public func reload() async -> Result<Void, ReloadFailure> {
        notifier.reloading()
        logger.info("reloading configuration and certificates")
        let result = core.reload(configPath: configPath)
        core.warnAboutCRL()
        notifier.ready(status: core.statusLine())
        return result
    }

    // MARK: stop

    /// Closes whatever sockets are still open and the event loops: after the services have
    /// stopped, or after a failed start.
    public func close() async {
        for channel in listeners.withLock({ $0 }) + (adminChannel.withLock { $0 }.map { [$0] } ?? []) {
            try? await channel.close()
        }
        try? await group.shutdownGracefully()
    }
}
