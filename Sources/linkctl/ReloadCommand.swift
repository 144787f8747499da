import ArgumentParser
import Foundation
import LinkcoreWire

/// `linkctl reload`: what `systemctl reload linkcored` runs (ExecReload=). It asks the daemon over
/// the admin socket to reload and waits for the outcome, so that a reload the daemon refused
/// (a config error, a certificate that does not match its key, a policy module that fails to load)
/// makes systemctl fail too, with the reason, instead of returning at once as `kill -HUP` does.
struct ReloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Reload linkcored's configuration, certificates, CRL and policy modules; wait for the outcome.",
        discussion: "Exit status 0 when the daemon took the new configuration; 1 when it refused it (the reason "
            + "is printed, and the previous configuration stays in force) or could not be reached.")

    @OptionGroup var admin: AdminSocketOptions

    func run() async throws {
        let response = try await admin.reload()
        guard response.ok else {
            FileHandle.standardError.write(Data("linkctl: reload failed; the previous configuration stays in force: \(response.error)\n".utf8))
            throw ExitCode.failure
        }
        print("reloaded")
    }
}

extension AdminSocketOptions {
    /// Asks the daemon to reload and returns its answer once the reload is over.
    func reload() async throws -> LCReloadResponse {
        // A reload loads every policy module again; give it more than the default request time.
        guard case let .reloadResponse(response)? = try await request(.reload(LCReloadRequest()), timeout: .seconds(120)) else {
            throw ValidationError("the daemon did not answer the reload")
        }
        return response
    }
}
