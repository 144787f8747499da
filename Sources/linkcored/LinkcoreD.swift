import ArgumentParser
import Foundation
import LinkcoreConfig
import LinkcoreDaemon
import LinkcoreSystemd
import Logging

@main
struct LinkcoreD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linkcored",
        abstract: "The linkcore core daemon: link codes, mediation, access log, fees and change events.",
        version: Daemon.version)

    @Option(name: .shortAndLong, help: "Path of the TOML configuration file.")
    var config = "/etc/linkcore/linkcored.toml"

    @Flag(help: "Check the configuration and certificates, then exit (0 when valid).")
    var checkConfig = false

    func run() async throws {
        // Files the daemon creates (admin socket, state) are private to its user.
        umask(0o077)
        let settings: DaemonConfig
        do {
            settings = try DaemonConfig.load(path: config)
        } catch {
            FileHandle.standardError.write(Data("linkcored: \(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG: systemd should not restart into the same mistake
        }
        LogSetup.bootstrap(identifier: "linkcored", level: Logger.Level(rawValue: settings.log.level.rawValue) ?? .info)
        let logger = Logger(label: "linkcored")
        let daemon: Daemon
        do {
            daemon = try await Daemon.make(configPath: config, config: settings, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            FileHandle.standardError.write(Data("linkcored: \(error)\n".utf8))
            throw ExitCode(78)
        }
        if checkConfig {
            print("configuration \(config) is valid")
            return
        }
        do {
            try await daemon.start()
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            FileHandle.standardError.write(Data("linkcored: \(error)\n".utf8))
            await daemon.shutdown()
            throw ExitCode(1)
        }
        await daemon.run()
    }
}
