import ArgumentParser
import Foundation
import LinkcoreRegistry
import LinkcoreTLS
import LinkcoreTransport
import Logging
import NIOCore
import NIOPosix

/// `linkcore-matcher serve`: match residents for organisations over mutual TLS and ask the core
/// to issue their links.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Serve matching requests over mutual TLS.")

    @Option(help: "The registry database.") var db: String
    @Option(help: "Address to listen on for organisations.") var listen = "127.0.0.1:7500"
    @Option(help: "Server certificate (PEM) presented to organisations.") var certificate: String
    @Option(help: "Its private key.") var privateKey: String
    @Option(help: "The network CA bundle.") var caBundle: String
    @Option(help: "The network CRL.") var crl: String?
    @Option(help: "The core's address.") var core = "127.0.0.1:7400"
    @Option(help: "The core's certificate name.") var coreServerName = "localhost"
    @Option(help: "Client certificate binding the matcher's organisation code, for the core.") var clientCertificate: String
    @Option(help: "Its private key.") var clientKey: String
    @Option(help: "Minutes a matching number stays valid.") var ticketMinutes = 15

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "linkcore-matcher")
        let (listenHost, listenPort) = try Self.split(listen)
        let (coreHost, corePort) = try Self.split(core)
        let store = try RegistryStore(path: db)
        let serverTLS = try TLSContext.server(TLSConfiguration(
            certificateChainPath: certificate, privateKeyPath: privateKey, trustRootsPath: caBundle, crlPath: crl))
        let clientTLS = try TLSContext.client(TLSConfiguration(
            certificateChainPath: clientCertificate, privateKeyPath: clientKey, trustRootsPath: caBundle, serverName: coreServerName))
        let core = CoreLink(host: coreHost, port: corePort, tls: clientTLS)
        let service = MatcherService(
            matcher: Matcher(store: store, ticketLifetime: TimeInterval(ticketMinutes * 60)),
            core: core, logger: logger)
        // The registry's change log goes to the core as change events, in the background.
        Task { await ChangeForwarder(store: store, core: core, logger: logger).run() }
        let environment = ConnectionEnvironment(
            coreID: "matcher", limits: ConnectionLimits(), service: service, metrics: Metrics(),
            registry: ConnectionRegistry(maxConnections: 10_000, maxPerOrg: 64), logger: logger)
        let server = try await Listener.bind(.tcp(host: listenHost, port: listenPort), group: MultiThreadedEventLoopGroup.singleton) { channel in
            channel.eventLoop.makeCompletedFuture { try Pipelines.configureServer(channel, tls: serverTLS, environment: environment) }
        }
        // On stderr (unbuffered): scripts and tests read the bound port from this line.
        logger.notice("linkcore-matcher listening on \(server.localAddress.map { "\($0)" } ?? listen)")
        try await server.closeFuture.get()
    }

    static func split(_ address: String) throws -> (String, Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw ValidationError("\(address): expected host:port")
        }
        return (String(address[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
    }
}
