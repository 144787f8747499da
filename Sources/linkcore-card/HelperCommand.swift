import ArgumentParser
import Foundation
import LinkcoreCard
import LinkcoreLifecycle
import LinkcoreSystemd
import Logging

/// `linkcore-card helper`: the loopback helper through which a service's web page logs the holder
/// in with the card (issue 14). The page hands a login challenge to the helper; the helper's own
/// PIN page shows the holder who asks and takes the PIN; the page collects the signature.
/// Design and threat model: docs/card.md, "The browser helper".
struct HelperCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "helper",
        abstract: "Serve the loopback browser helper: pages on allowed origins ask for a card login, the PIN is typed on the helper's own page.",
        discussion: "Prints \"helper HOST:PORT\" on standard output once listening (the bound port for port 0). "
            + "Binds loopback only. Exit 64 for a bad command line, 6 for a missing card; SIGTERM ends it cleanly.")
    @OptionGroup var card: CardOptions
    @Option(help: "Loopback HOST:PORT to listen on (127.0.0.1 or [::1]; port 0: any free port).") var listen = "127.0.0.1:8765"
    @Option(name: .customLong("allow-origin"),
            help: "An origin (scheme://host[:port]) whose pages may ask for a login, optionally =SERVICE to accept only that service's challenges. Repeat for several.")
    var allowOrigins: [String] = []
    @Option(help: "Requests waiting for a PIN at once (more: 429).") var maxPending = 4
    @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel = "info"

    func run() async throws {
        let allowList: HelperAllowList
        let address: HelperListenAddress
        do {
            guard (1...64).contains(maxPending) else { throw HelperSetupError.usage("--max-pending must be 1 to 64") }
            allowList = try HelperAllowList(allowOrigins)
            address = try HelperListenAddress(listen)
        } catch {
            FileHandle.standardError.write(Data("error: usage: \(error)\n".utf8))
            throw ExitCode(64)
        }
        LogSetup.bootstrap(identifier: "linkcore-card-helper", level: Logger.Level(rawValue: logLevel) ?? .info)
        let logger = Logger(label: "linkcore-card-helper")
        // The card is opened once (the module is a process-wide singleton) and must be there now:
        // a helper that cannot sign should say so at start, not on the holder's first PIN.
        var token: CardToken?
        try runCard { token = try card.open() }
        guard let token else { throw ExitCode(1) }
        let server = HelperServer(allowList: allowList, requests: HelperRequests(maxPending: maxPending),
                                  card: HelperCard(token), address: address, logger: logger)
        let listening = ReadinessGate()
        let application = server.application { authority in
            logger.notice("card helper listening", metadata: [
                "address": "\(authority)", "origins": "\(allowList.entries.keys.sorted().joined(separator: " "))",
            ])
            // Tests and scripts read the bound port from this line.
            FileHandle.standardOutput.write(Data("helper \(authority)\n".utf8))
            listening.open()
        }
        await ProcessLifecycle.run([application], drainTimeout: .seconds(5), logger: logger)
        if !listening.isOpen {
            FileHandle.standardError.write(Data("error: listen: cannot listen on \(listen)\n".utf8))
            throw ExitCode(1)
        }
    }
}
