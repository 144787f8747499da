import ArgumentParser
import Foundation
import LinkcoreAdapter
import LinkcoreAdapterAPI
import LinkcoreCardVerifier
import LinkcoreClient
import LinkcoreConfig
import LinkcoreMetrics
import LinkcoreSystemd
import Logging
import ServiceLifecycle

/// `linkcore-adapter run`: the product an organisation runs beside its systems, configured by
/// `/etc/linkcore/adapter.toml` (every key documented in etc/linkcore/adapter.toml).
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the adapter: core session (reconnecting), link table, backend, local HTTP API.",
        discussion: "Exit status 78 (EX_CONFIG) for a bad configuration, so that systemd does not restart into the same mistake.")

    @Option(name: .shortAndLong, help: "Path of the TOML configuration file.")
    var config = "/etc/linkcore/adapter.toml"

    @Flag(help: "Check the configuration, then exit (0 when valid).")
    var checkConfig = false

    func run() async throws {
        umask(0o077)
        let settings: AdapterConfig
        do {
            settings = try AdapterConfig.load(path: config)
        } catch {
            fail("\(error)")
            throw ExitCode(78)
        }
        if checkConfig {
            print("configuration \(config) is valid")
            return
        }
        LogSetup.bootstrap(identifier: "linkcore-adapter", level: Logger.Level(rawValue: settings.log.level.rawValue) ?? .info)
        let logger = Logger(label: "linkcore-adapter")
        // Before anything creates a metric: each binds to the factory in force when made. Without
        // [metrics] listen, swift-metrics' no-op backend stays: nothing is recorded for nobody.
        if settings.metrics.listen != nil { LinkcoreMetricsSystem.bootstrap() }
        let service: AdapterService
        do {
            service = try Self.makeService(settings, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            fail("\(error)")
            throw ExitCode(78)
        }
        let token: String
        do {
            token = try APIToken.load(path: settings.api.tokenFile)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            fail("\(error)")
            throw ExitCode(78)
        }
        let notifier = SystemdNotifier()
        let listen = settings.api.listen
        let api: any Service
        do {
            let limits = LocalAPI.Limits(maxBodyBytes: settings.api.maxBodyBytes, maxConnections: settings.api.maxConnections,
                                         idleTimeout: settings.api.idleTimeout, requestTimeout: settings.api.requestTimeout)
            api = try LocalAPI.application(host: listen.host, port: listen.port, token: token, limits: limits, service: service,
                                           logger: logger) { port in
                logger.info("local API listening", metadata: ["address": "\(listen.host):\(port)"])
                // Tests and scripts read the port from here when they ask for port 0.
                FileHandle.standardOutput.write(Data("api \(listen.host):\(port)\n".utf8))
                // READY once the API answers: the core may be down, and the API says so in /status.
                notifier.ready(status: "API on \(listen.host):\(port); connecting to the core")
            }
        } catch {
            logger.critical("cannot set up the local API", metadata: ["error": "\(error)"])
            fail("cannot set up the local API: \(error)")
            throw ExitCode(1)
        }
        let core = CoreSessionService(service: service) {
            notifier.status("connected to the core at \(service.coreState.core ?? "?"); API on \(listen.host)")
        }
        // Shutdown runs in reverse order: STOPPING is sent, then the API stops accepting and
        // drains the requests in progress (which may still need the core), then the core
        // session ends. SIGTERM and SIGINT start it; the adapter has no reload.
        // [metrics] listen: the scrape endpoint stops last.
        let metrics: [ServiceGroupConfiguration.ServiceConfiguration] = settings.metrics.listen.map {
            [.init(service: MetricsEndpoint(host: $0.host, port: $0.port, logger: logger).loggingFailures)]
        } ?? []
        let group = ServiceGroup(configuration: .init(
            services: metrics + [.init(service: core), .init(service: api), .init(service: StoppingNotice(notifier: notifier, logger: logger))],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch {
            // A bind failure surfaces here, before READY.
            logger.critical("the adapter stopped", metadata: ["error": "\(error)"])
            fail("cannot listen on \(listen) or run: \(error)")
            throw ExitCode(1)
        }
    }

    static func makeService(_ settings: AdapterConfig, logger: Logger) throws -> AdapterService {
        let core = try CoreEndpoint(
            addresses: settings.core.connectAddresses.map { CoreAddress(host: $0.host, port: $0.port) }, certificate: settings.core.certificate,
            privateKey: settings.core.privateKey, caBundle: settings.core.caBundle, serverName: settings.core.serverName,
            crl: settings.core.crl)
        let matcher = try settings.matcher.map {
            try CoreEndpoint(address: "\($0.address.host):\($0.address.port)", certificate: settings.core.certificate,
                             privateKey: settings.core.privateKey, caBundle: settings.core.caBundle, serverName: $0.serverName,
                             crl: settings.core.crl)
        }
        _ = try core.makeTLS()
        let backend: any AnswerBackend
        switch settings.backend.kind {
        case .dataset:
            backend = try DatasetBackend(path: settings.backend.dataset ?? "")
        case .webhook:
            guard let url = URL(string: settings.backend.url ?? "") else { throw AdapterError("bad [backend] url") }
            backend = WebhookBackend(url: url, timeout: settings.backend.timeout)
        }
        let links = try LinkTable(path: settings.adapter.database)
        let card = try settings.card.map { card in
            let caPEM: String
            do { caPEM = try String(contentsOfFile: card.ca, encoding: .utf8) } catch {
                throw AdapterError("[card] ca: cannot read \(card.ca): \(error.localizedDescription)")
            }
            guard caPEM.contains("-----BEGIN CERTIFICATE-----") else { throw AdapterError("[card] ca: \(card.ca) holds no PEM certificate") }
            let policy = CardStatusPolicy(
                ocspURL: card.ocspURL.flatMap { URL(string: $0) }, crlPath: card.crl,
                maxStatusAge: TimeInterval(card.maxStatusAge / .milliseconds(1)) / 1000, requireNonce: card.requireNonce,
                timeout: card.ocspTimeout)
            return CardLoginVerifier(
                service: settings.adapter.orgCode, cardCAPEM: caPEM,
                challengeLifetime: TimeInterval(card.challengeLifetime / .milliseconds(1)) / 1000,
                statusChecker: CardStatusChecker(policy: policy, transport: HTTPOCSPTransport()))
        }
        return AdapterService(
            settings: .init(
                orgCode: settings.adapter.orgCode, core: core, matcher: matcher,
                backoff: .init(initial: settings.core.reconnectInitial, maximum: settings.core.reconnectMax),
                requestTimeout: settings.core.requestTimeout, matcherTimeout: settings.matcher?.requestTimeout ?? .seconds(10),
                linkWait: settings.matcher?.linkWait ?? .seconds(10)),
            links: links, backend: backend, card: card, logger: logger)
    }

    func fail(_ message: String) {
        FileHandle.standardError.write(Data("linkcore-adapter: \(message)\n".utf8))
    }
}

struct OpenAPI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "openapi", abstract: "Print the local API's OpenAPI document (docs/adapter-openapi.json).")
    func run() async throws { print(AdapterOpenAPIDocument.json) }
}

struct Routes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the routes the local API serves, one \"METHOD path\" per line.")
    func run() async throws {
        for route in try LocalAPI.routes() { print(route) }
    }
}

struct Dataset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a dataset backend file, or add an answer to it (person_id, info_type -> answer).")
    @Option(help: "The dataset SQLite file (created if missing).") var db: String
    @Option(help: "The organisation's person ID.") var person: String?
    @Option(help: "Information type.") var info: String?
    @Option(help: "The answer text.") var answer: String?
    func run() async throws {
        guard let person, let info, let answer else {
            guard person == nil, info == nil, answer == nil else { throw ValidationError("give --person, --info and --answer together") }
            return try DatasetBackend.create(path: db)
        }
        try DatasetBackend.put(path: db, personID: person, infoType: info, answer: answer)
    }
}

/// Sends STOPPING=1 as soon as shutdown starts (it is the last service, so the first told).
struct StoppingNotice: Service {
    let notifier: SystemdNotifier
    let logger: Logger
    func run() async throws {
        try? await gracefulShutdown()
        logger.info("stopping: draining the local API, then closing the core session")
        notifier.stopping(status: "stopping")
    }
}
