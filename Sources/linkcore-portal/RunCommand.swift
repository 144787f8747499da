import ArgumentParser
import Foundation
import LinkcoreAdapter
import LinkcoreCardVerifier
import LinkcoreClient
import LinkcoreConfig
import LinkcoreLifecycle
import LinkcorePortal
import LinkcoreSystemd
import Logging
import ServiceLifecycle

/// `linkcore-portal run`: configured by `/etc/linkcore/portal.toml` (every key documented in
/// etc/linkcore/portal.toml).
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the portal: HTTPS pages, sessions, its SQLite file, the core session (reconnecting).",
        discussion: "Prints \"portal https://HOST:PORT\" on standard output once listening (the bound port for port 0). "
            + "Exit status 78 (EX_CONFIG) for a bad configuration. SIGHUP reloads the HTTPS certificate and key; SIGTERM ends it cleanly.")

    @Option(name: .shortAndLong, help: "Path of the TOML configuration file.")
    var config = "/etc/linkcore/portal.toml"

    @Flag(help: "Check the configuration, then exit (0 when valid).")
    var checkConfig = false

    func run() async throws {
        umask(0o077)
        let settings: PortalConfig
        do {
            settings = try PortalConfig.load(path: config)
        } catch {
            fail("\(error)")
            throw ExitCode(78)
        }
        // Bad TLS material or an unusable database is a configuration error, found before READY.
        let tls: TLSContextHolder
        let store: PortalStore
        let endpoint: CoreEndpoint
        let cardParts: CardParts?
        do {
            tls = TLSContextHolder(try TLSContextHolder.load(certificate: settings.https.certificate, privateKey: settings.https.privateKey))
            var coreEndpoint = try CoreEndpoint(
                addresses: settings.core.connectAddresses.map { CoreAddress(host: $0.host, port: $0.port) }, certificate: settings.core.certificate,
                privateKey: settings.core.privateKey, caBundle: settings.core.caBundle, serverName: settings.core.serverName,
                crl: settings.core.crl)
            coreEndpoint.software = "linkcore-portal/0.1"
            endpoint = coreEndpoint
            _ = try endpoint.makeTLS()
            cardParts = try settings.cardLogin.map { try Self.cardParts($0, core: endpoint, service: settings.portal.orgCode) }
            if checkConfig {
                print("configuration \(config) is valid")
                return
            }
            store = try PortalStore(path: settings.portal.database)
        } catch {
            fail("\(error)")
            throw ExitCode(78)
        }
        LogSetup.bootstrap(identifier: "linkcore-portal", level: Logger.Level(rawValue: settings.log.level.rawValue) ?? .info)
        let logger = Logger(label: "linkcore-portal")
        let folderSettings = settings.folder
        let folder = PortalFolder(store: store, retentionDays: { folderSettings.retention(forType: $0) })
        let core = PortalCore(endpoint: endpoint, orgCode: settings.portal.orgCode,
                              backoff: .init(initial: settings.core.reconnectInitial, maximum: settings.core.reconnectMax), logger: logger,
                              folder: folder)
        let resident = PortalResidentData(core: core, folder: folder, requestTimeout: settings.core.requestTimeout,
                                          // Benchmarks/run-portal.sh's baseline page; unset in production.
                                          benchStaticBytes: Int(ProcessInfo.processInfo.environment["LINKCORE_PORTAL_BENCH_STATIC_BYTES"] ?? "") ?? 0)
        let sessions = Sessions(store: store, timeouts: .init(idle: settings.session.idleTimeout, absolute: settings.session.absoluteTimeout))
        let card = cardParts.map { CardLogin(settings: $0.settings, verifier: $0.verifier, store: store, core: core, logger: logger) }
        let oidc: OIDCProvider?
        do {
            oidc = try settings.oidc.map { try OIDCProvider.make($0, store: store, core: core) }
        } catch {
            fail("[oidc]: \(error)")
            throw ExitCode(78)
        }
        let site: PortalSite
        do {
            site = try PortalSite(settings: .init(allowedHosts: settings.https.allowedHosts, maxBodyBytes: settings.https.maxBodyBytes),
                                  sessions: sessions, coreConnected: { core.isConnected }, logger: logger,
                                  resident: resident, card: card, oidc: oidc)
        } catch {
            fail("cannot compile the page templates: \(error)")
            throw ExitCode(1)
        }

        let notifier = SystemdNotifier()
        let listening = ReadinessGate()
        let listen = settings.https.listen
        let https = PortalServer.application(
            site: site, tls: tls, host: listen.host, port: listen.port, idleTimeout: settings.https.idleTimeout, logger: logger
        ) { port in
            let url = "https://\(listen.host.contains(":") ? "[\(listen.host)]" : listen.host):\(port)"
            logger.notice("portal listening", metadata: ["url": "\(url)"])
            // Tests and scripts read the URL (and the port, for port 0) from this line.
            FileHandle.standardOutput.write(Data("portal \(url)\n".utf8))
            listening.open()
        }
        let (certificate, privateKey) = (settings.https.certificate, settings.https.privateKey)
        // SIGHUP: a renewed HTTPS certificate without a restart (new connections get it). The
        // rest of the configuration needs a restart, and the log says so.
        let hangup = await HangupService.trap {
            do {
                tls.replace(try TLSContextHolder.load(certificate: certificate, privateKey: privateKey))
                logger.notice("SIGHUP: HTTPS certificate reloaded; restart linkcore-portal to apply other configuration changes")
            } catch {
                logger.error("SIGHUP: cannot load the HTTPS certificate; keeping the current one", metadata: ["error": "\(error)"])
            }
        }
        let status: @Sendable () -> String = {
            "HTTPS on \(listen.host); core \(core.isConnected ? "connected" : "not connected (reconnecting)")"
        }
        // Reverse order at shutdown: STOPPING first, then the HTTPS listener drains, then the
        // core session closes.
        await ProcessLifecycle.run([
            PortalCoreService(core: core) { notifier.status(status()) },
            https,
            SystemdNotifyService.statusRefresher(notifier, every: SystemdNotifyService.statusPeriod(notifier, preferred: .seconds(5)),
                                                 startAfter: listening) { status() },
            SystemdNotifyService.watchdog(notifier, startAfter: listening),
            hangup,
            // READY once HTTPS answers: the core may be down, and /health says so.
            SystemdNotifyService(notifier: notifier, startAfter: listening, readyStatus: { status() },
                                 stoppingStatus: { "stopping" }),
        ], drainTimeout: .seconds(5), logger: logger)
        if !listening.isOpen {
            fail("cannot listen on \(listen)")
            throw ExitCode(1)
        }
    }

    typealias CardParts = (settings: CardLogin.Settings, verifier: CardLoginVerifier)

    /// `[card]` + `[matcher]`: the verifier (card CA, OCSP, CRL, as the adapter's `[card]`) and the
    /// matcher's and card authority's endpoints, with the core's credentials (one PORTAL identity).
    static func cardParts(_ card: PortalConfig.CardLogin, core: CoreEndpoint, service: String) throws -> CardParts {
        let caPEM: String
        do { caPEM = try String(contentsOfFile: card.card.ca, encoding: .utf8) } catch {
            throw AdapterError("[card] ca: cannot read \(card.card.ca): \(error.localizedDescription)")
        }
        guard caPEM.contains("-----BEGIN CERTIFICATE-----") else { throw AdapterError("[card] ca: \(card.card.ca) holds no PEM certificate") }
        let policy = CardStatusPolicy(
            ocspURL: card.card.ocspURL.flatMap { URL(string: $0) }, crlPath: card.card.crl,
            maxStatusAge: TimeInterval(card.card.maxStatusAge / .milliseconds(1)) / 1000, requireNonce: card.card.requireNonce,
            timeout: card.card.ocspTimeout)
        var matcher = try CoreEndpoint(address: "\(card.matcher.address.host):\(card.matcher.address.port)", certificate: core.certificate,
                                       privateKey: core.privateKey, caBundle: core.caBundle, serverName: card.matcher.serverName, crl: core.crl)
        matcher.software = core.software
        var authority = try CoreEndpoint(address: "\(card.authority.host):\(card.authority.port)", certificate: core.certificate,
                                         privateKey: core.privateKey, caBundle: core.caBundle, serverName: card.authorityServerName, crl: core.crl)
        authority.software = core.software
        return (
            CardLogin.Settings(
                service: service, helperOrigin: card.helperOrigin, consentLifetime: TimeInterval(card.consentLifetime / .milliseconds(1)) / 1000,
                matcher: matcher, matcherTimeout: card.matcher.requestTimeout, linkWait: card.matcher.linkWait, authority: authority,
                authorityTimeout: card.authorityTimeout),
            CardLoginVerifier(service: service, cardCAPEM: caPEM,
                              challengeLifetime: TimeInterval(card.card.challengeLifetime / .milliseconds(1)) / 1000,
                              statusChecker: CardStatusChecker(policy: policy, transport: HTTPOCSPTransport()))
        )
    }

    func fail(_ message: String) {
        FileHandle.standardError.write(Data("linkcore-portal: \(message)\n".utf8))
    }
}
