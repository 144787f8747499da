import ArgumentParser
import LinkcoreWire

/// `linkctl audit verify`: has the resident access log been tampered with?
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "Check the access log.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the access log's hash chain and check its signed checkpoints and the witness of the last signed head.",
            discussion: "Exits 0 when the log is intact, 1 with the first bad position when an entry was altered, deleted or reordered.")
        @OptionGroup var admin: AdminSocketOptions

        func run() async throws {
            guard case let .auditVerifyResponse(report)? = try await admin.request(.auditVerify(LCAuditVerifyRequest())) else {
                throw ValidationError("unexpected reply")
            }
            var counts = "\(report.entriesChecked) entries, \(report.checkpointsChecked) signed checkpoints, \(report.treeHeadsChecked) signed tree heads"
            if report.v2FromPosition > 0 { counts += " (v2 from position \(report.v2FromPosition))" }
            if report.ok {
                print("access log intact: \(counts) verified")
            } else if report.firstBadPosition == 0 {
                // No position to name: the witness of the last signed head is missing or unreadable.
                print("access log NOT VERIFIED: \(report.problem)")
                throw ExitCode(1)
            } else {
                print("access log TAMPERED at position \(report.firstBadPosition): \(report.problem) (\(counts) verified before it)")
                throw ExitCode(1)
            }
        }
    }
}
