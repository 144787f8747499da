import ArgumentParser
import LinkcoreWire

/// `linkctl policy`: the daemon's policy modules.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Show or reload linkcored's policy modules.",
        subcommands: [PolicyStatusCommand.self, PolicyReloadCommand.self])
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
        guard case let .reloadResponse(response)? = try await admin.request(.reload(LCReloadRequest())) else {
            throw ValidationError("the daemon did not answer the reload")
        }
        if case let .status(status)? = try await admin.request(.statusRequest(LCStatusRequest())) {
            print(status.policyStatus)
        }
        guard response.ok else { throw ValidationError("reload failed; the previous set stays in force: \(response.error)") }
    }
}
