import ArgumentParser
import Foundation
import LinkcorePolicy
import LinkcoreWire
import Logging

/// `linkctl policy`: the daemon's policy modules.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Show or reload linkcored's policy modules.",
        subcommands: [PolicyStatusCommand.self, PolicyReloadCommand.self, PolicyCheckCommand.self])
}

struct PolicyStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the policy set in force.")

    @OptionGroup var admin: AdminSocketOptions

    func run() async throws {
        guard case let .status(status)? = try await admin.request(.statusRequest(LCStatusRequest())) else {
            throw ValidationError("the daemon did not answer with a status")
        }
        print(status.policyStatus.isEmpty ? "no policy status" : status.policyStatus)
    }
}

/// Same as SIGHUP: re-reads the config and loads a new policy set; the old set stays on failure.
struct PolicyReloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Reload the configuration and policy modules (as SIGHUP does); the running set stays on failure.")

    @OptionGroup var admin: AdminSocketOptions

    func run() async throws {
        let response = try await admin.reload()
        if case let .status(status)? = try await admin.request(.statusRequest(LCStatusRequest())) {
            print(status.policyStatus)
        }
        guard response.ok else { throw ValidationError("reload failed; the previous set stays in force: \(response.error)") }
    }
}

/// Loads a module and its configuration in this process, exactly as linkcored would, so an
/// operator learns about a wrong ABI, kind or table before reloading the daemon.
struct PolicyCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Load a policy module with its configuration, as linkcored would, and report.")

    @Option(help: "whitelist, fees or events.")
    var kind: String

    @Option(help: "The module's shared object.")
    var module: String

    @Option(help: "The module's configuration file.")
    var config: String?

    func run() throws {
        guard let kind = PolicyKind(name: kind) else { throw ValidationError("--kind must be whitelist, fees or events") }
        var logger = Logger(label: "linkctl")
        logger.logLevel = .warning
        let absolute = { (path: String) in
            path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        }
        let spec = PolicySpec(modules: [.init(kind: kind, path: absolute(module), config: config.map(absolute))])
        switch PolicyHost(logger: logger).load(spec) {
        case .success(let set):
            for m in set.modules { print("ok: \(m.kind) module \(m.name) \(m.version) from \(m.path)") }
        case .failure(let error):
            throw ValidationError(error.description)
        }
    }
}
