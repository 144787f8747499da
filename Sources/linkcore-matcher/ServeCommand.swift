import ArgumentParser
import Foundation
import LinkcoreConfig
import LinkcoreMetrics
import LinkcoreSystemd
import Logging

/// `linkcore-matcher serve`: match residents for organisations over mutual TLS and ask the core
/// to issue their links. Everything it needs is in the configuration file (etc/linkcore/matcher.toml).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve matching requests over mutual TLS.",
        discussion: """
            Exit status 78 (EX_CONFIG) for a bad configuration, registry or TLS material, so that systemd \
            does not restart into the same mistake; 1 when a listen address cannot be bound.
            """)

    @Option(name: .shortAndLong, help: "Path of the TOML configuration file.")
    var config = "/etc/linkcore/matcher.toml"

    @Flag(help: "Check the configuration, registry and certificates, then exit (0 when valid).")
    var checkConfig = false

    func run() async throws {
        umask(0o077)
        let settings: MatcherConfig
        do {
            settings = try MatcherConfig.load(path: config)
        } catch {
            Self.fail("\(error)")
            throw ExitCode(78)
        }
        LogSetup.bootstrap(identifier: "linkcore-matcher", level: Logger.Level(rawValue: settings.log.level.rawValue) ?? .info)
        let logger = Logger(label: "linkcore-matcher")
        // Before anything creates a metric: each binds to the factory in force when made. Without
        // [metrics] listen, swift-metrics' no-op backend stays: nothing is recorded for nobody.
        if settings.metrics.listen != nil { LinkcoreMetricsSystem.bootstrap() }
        let server: MatcherServer
        do {
            server = try MatcherServer(config: settings, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            Self.fail("\(error)")
            throw ExitCode(78)
        }
        if checkConfig {
            print("configuration \(config) is valid")
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

    static func fail(_ message: String) {
        FileHandle.standardError.write(Data("linkcore-matcher: \(message)\n".utf8))
    }
}
