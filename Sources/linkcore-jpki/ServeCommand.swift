import ArgumentParser
import Foundation
import LinkcoreConfig
import LinkcoreSystemd
import Logging

/// `linkcore-jpki serve`: answer licensed verifiers over mutual TLS (the logical link and the
/// certificate history). The card authority is an organisation of the network towards the core
/// (role card-authority), which it asks whether each requester is a licensed verifier.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Answer licensed verifiers' certificate queries over mutual TLS.",
        discussion: """
            Exit status 78 (EX_CONFIG) for bad options or TLS material, so that systemd does not restart \
            into the same mistake; 1 when the listen address cannot be bound.
            """)

    @Option(help: "The authority's directory (authority.db, issued/).") var dir: String
    @Option(help: "host:port verifiers connect to (port 0: an ephemeral port, logged).") var listen = "0.0.0.0:7600"
    @Option(help: "The authority's server certificate chain (PEM), from the network CA.") var tlsCert: String
    @Option(help: "Its private key (PEM).") var tlsKey: String
    @Option(help: "The network CA (PEM): verifiers' client certificates and the core's certificate chain to it.") var networkCA: String
    @Option(help: "The network CA's CRL (PEM), checked for verifiers and the core.") var crl: String?
    @Option(help: "The core's host:port; several core nodes comma-separated, in order of preference.") var core = "127.0.0.1:7400"
    @Option(help: "The name the core's certificate must carry (default: the host of --core).") var coreServerName: String?
    @Option(help: "The authority's client certificate towards the core (PEM; organisation with the card-authority role).") var coreCert: String
    @Option(help: "Its private key (PEM).") var coreKey: String
    @Option(help: "How long the core's answer about a verifier's licence is reused, in ms.") var licenceCacheMs = 30_000
    @Option(help: "Time allowed for one question to the core, in ms.") var coreTimeoutMs = 10_000
    @Option(help: "Pause between attempts to reach the core at start, in ms.") var coreRetryMs = 1_000
    @Option(help: "After SIGTERM, how long open requests may finish, in ms.") var drainTimeoutMs = 10_000
    @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel = "info"
    @Flag(help: "Check the options, store and certificates, then exit (0 when valid).") var checkConfig = false

    func run() async throws {
        umask(0o077)
        let settings: VerifierSettings
        do {
            settings = try self.settings()
        } catch {
            Self.fail("\(error)")
            throw ExitCode(78)
        }
        LogSetup.bootstrap(identifier: "linkcore-jpki", level: Logger.Level(rawValue: logLevel) ?? .info)
        let logger = Logger(label: "linkcore-jpki")
        let server: VerifierServer
        do {
            server = try VerifierServer(settings: settings, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            Self.fail("\(error)")
            throw ExitCode(78)
        }
        if checkConfig {
            print("settings are valid")
            await server.close()
            return
        }
        do {
            try await server.run()
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            Self.fail("\(error)")
            await server.close()
            throw ExitCode(1)
        }
    }

    func settings() throws -> VerifierSettings {
        let listenAddress = try Self.address(listen, option: "--listen", allowPortZero: true)
        // Several core nodes, comma-separated, in order of preference (fail over in that order).
        let coreAddresses = try core.split(separator: ",").map { try Self.address(String($0), option: "--core", allowPortZero: false) }
        guard let coreAddress = coreAddresses.first else { throw ValidationError("--core: expected host:port") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level \(logLevel)") }
        for (value, name, range) in [(licenceCacheMs, "--licence-cache-ms", 0...3_600_000), (coreTimeoutMs, "--core-timeout-ms", 100...600_000),
                                     (coreRetryMs, "--core-retry-ms", 10...600_000), (drainTimeoutMs, "--drain-timeout-ms", 0...3_600_000)]
        where !range.contains(value) {
            throw ValidationError("\(name) must be \(range.lowerBound)-\(range.upperBound)")
        }
        return VerifierSettings(
            directory: dir, listen: listenAddress, certificate: tlsCert, privateKey: tlsKey, networkCA: networkCA, crl: crl,
            core: coreAddress, coreServerName: coreServerName ?? coreAddress.host, coreCertificate: coreCert, coreKey: coreKey,
            licenceCachePeriod: .milliseconds(licenceCacheMs), coreRequestTimeout: .milliseconds(coreTimeoutMs),
            coreRetryInterval: .milliseconds(coreRetryMs), drainTimeout: .milliseconds(drainTimeoutMs), coreAddresses: coreAddresses)
    }

    static func address(_ text: String, option: String, allowPortZero: Bool) throws -> ListenAddress {
        switch ListenAddress.parse(text) {
        case let .success(address):
            guard allowPortZero || address.port > 0 else { throw ValidationError("\(option): port 0 cannot be connected to") }
            return address
        case let .failure(problem):
            throw ValidationError("\(option): bad address \(text): \(problem.reason)")
        }
    }

    static func fail(_ message: String) {
        FileHandle.standardError.write(Data("linkcore-jpki: \(message)\n".utf8))
    }
}
