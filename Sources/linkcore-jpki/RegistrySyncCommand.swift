import ArgumentParser
import Foundation
import LinkcoreJPKI
import LinkcoreRegistry

/// Revocation as the change signal (issue 14 §3): reads the registry's change log after the
/// authority's durable cursor and revokes accordingly (a move or new name: the signature
/// certificate, affiliationChanged; a death: both, cessationOfOperation). Runs daily before the
/// CRL (systemd/linkcore-jpki-registry-sync.service) and on demand. Prints counts only: never
/// which resident or what changed.
struct RegistrySyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry-sync", abstract: "Revoke certificates for the registry's recorded moves, new names and deaths.")
    @Option(help: "The authority's directory.") var dir: String
    @Option(help: "The resident registry (SQLite).") var registry: String
    @Option(help: "Changes applied per transaction.") var batch: Int = 1000

    func validate() throws {
        guard (1...100_000).contains(batch) else { throw ValidationError("--batch must be between 1 and 100000") }
    }

    func run() throws {
        // Opening a missing path would create an empty registry (and a cursor for it).
        guard FileManager.default.fileExists(atPath: registry) else { throw ValidationError("no registry at \(registry)") }
        let registryStore = try RegistryStore(path: registry)
        let store = try CardAuthorityStore(path: dir + "/authority.db")
        // Per registry instance: a rebuilt registry (a new change log) starts from its beginning.
        let instance = try registryStore.reportingCursor().instance
        var applied = 0, revoked = 0
        var cursor = try store.registryCursor(instance: instance)
        while true {
            let page = try registryStore.changes(after: cursor, limit: batch)
            if page.isEmpty { break }
            let entries = try page.map { change in
                guard let kind = RegistryChangeEntry.Kind(rawValue: change.kind) else {
                    // Not understood: stop before it, so the cursor never passes a change unapplied.
                    throw ValidationError("registry change \(change.sequence) has an unknown kind \(change.kind)")
                }
                return RegistryChangeEntry(sequence: change.sequence, residentCode: change.residentCode, kind: kind)
            }
            let result = try store.applyRegistryChanges(instance: instance, entries)
            applied += result.applied
            revoked += result.revoked.count
            cursor = result.cursor
        }
        print("{\"applied\": \(applied), \"revoked\": \(revoked), \"cursor\": \(cursor)}")
    }
}
