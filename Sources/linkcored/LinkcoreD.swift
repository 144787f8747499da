import ArgumentParser
import Foundation
import LinkcoreConfig
import LinkcoreDaemon
import LinkcoreMetrics
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

    @Flag(help: ArgumentHelp(
        "Check the configuration, certificates, keys and policy modules, then exit (0 when valid, 78 when not).",
        discussion: "Outside the unit, \"credential:NAME\" files are read only with --credentials-dir; without it the "
            + "check says which credentials are configured and that it did not read them."))
    var checkConfig = false

    @Option(help: ArgumentHelp(
        "With --check-config: read \"credential:NAME\" from DIR/NAME, as the unit's $CREDENTIALS_DIRECTORY would "
            + "(e.g. /etc/linkcore/credentials, where LoadCredential= takes them from).",
        valueName: "dir"))
    var credentialsDir: String?

    func validate() throws {
        if credentialsDir != nil && !checkConfig {
            throw ValidationError("--credentials-dir is for --check-config; under systemd the credentials come from $CREDENTIALS_DIRECTORY")
        }
    }

    func run() async throws {
        // Files the daemon creates (admin socket, state) are private to its user.
        umask(0o077)
        if checkConfig {
            do {
                let report = try ConfigCheck.run(configPath: config, credentialsDirectory: credentialsDir)
                print(report.lines.joined(separator: "\n"))
                print("configuration \(config) is valid")
                return
            } catch {
                FileHandle.standardError.write(Data("linkcored: \(error)\n".utf8))
                throw ExitCode(78)
            }
        }
        let settings: DaemonConfig
        do {
            settings = try DaemonConfig.load(path: config)
        } catch {
            throw Self.refuse("\(error)", exitCode: 78)  // EX_CONFIG: systemd should not restart into the same mistake
        }
        LogSetup.bootstrap(identifier: "linkcored", level: Logger.Level(rawValue: settings.log.level.rawValue) ?? .info)
        let logger = Logger(label: "linkcored")
        // Before anything creates a metric: each binds to the factory in force when made. Without
        // [metrics] listen, swift-metrics' no-op backend stays: nothing is recorded for nobody.
        if settings.metrics.listen != nil { LinkcoreMetricsSystem.bootstrap() }
        let daemon: Daemon
        do {
            daemon = try await Daemon.make(configPath: config, config: settings, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            // A database that cannot be reached is not a configuration mistake: 75 (EX_TEMPFAIL)
            // lets systemd restart; everything else here is one, 78.
            if case DaemonError.storeUnavailable = error { throw Self.refuse("\(error)", exitCode: 75) }
            throw Self.refuse("\(error)", exitCode: 78)
        }
        do {
            try await daemon.start()
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            await daemon.close()
            throw Self.refuse("\(error)", exitCode: 1)
        }
        await daemon.run()
    }

    /// The reason goes to stderr (the journal under systemd) and into STATUS=, which
    /// `systemctl status linkcored` shows beside "failed": the operator sees the file, line and key
    /// without searching the journal.
    /// Connections already queued on linkcored.socket are closed (see
    /// `SocketActivation.refusePendingConnections`), so that one connection attempt costs one
    /// failed start, not a burst of them.
    static func refuse(_ reason: String, exitCode: Int32) -> ExitCode {
        FileHandle.standardError.write(Data("linkcored: \(reason)\n".utf8))
        SystemdNotifier().status("cannot start: \(reason)")
        SocketActivation.refusePendingConnections(on: SocketActivation.inheritedSockets())
        return ExitCode(exitCode)
    }
}
