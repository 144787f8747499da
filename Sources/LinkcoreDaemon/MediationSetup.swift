import Foundation
import LinkcoreConfig
import LinkcoreDomain
import LinkcorePolicy
import LinkcorePolicyTables
import LinkcoreWire
import Logging

extension CoreComponents {
    /// The built-in whitelist table: the module's engine (`WhitelistTable`) run in process, read
    /// from the CSV form, with the same calendar (days in Japan time). A missing file means an
    /// empty table: every exchange is refused (deny by default) and the operator is told; a
    /// malformed file stops the start, and so does one that is a symlink, not owned by root or the
    /// daemon's user, or writable by group or others (or in such a directory): it decides what is
    /// lawful (see SecureFile).
    static func loadWhitelist(_ path: String, logger: Logger) throws -> TableWhitelist {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            logger.warning("no whitelist table: every mediation will be refused", metadata: ["path": "\(path)"])
            return TableWhitelist(table: try WhitelistTable(csv: "", file: path))
        }
        let file = try SecureFile(path: path, what: "whitelist table", reportedAs: "")  // the message names the file
        let table = try WhitelistTable(csv: String(decoding: try file.contents(), as: UTF8.self), file: path)
        logger.info("whitelist loaded", metadata: ["path": "\(path)", "rules": "\(table.rules.count)"])
        return TableWhitelist(table: table)
    }

    /// What A's reply frame holds besides B's answer is far below this (docs/protocol.md §8).
    static let answerHeadroomBytes = 4_096

    static func mediationSettings(_ config: DaemonConfig) -> Mediator.Settings {
        let m = config.mediation
        return Mediator.Settings(defaultDeadlineMs: Int64(m.defaultDeadline / .milliseconds(1)),
                                 maxDeadlineMs: Int64(m.maxDeadline / .milliseconds(1)), maxPayloadBytes: m.maxPayloadBytes,
                                 idempotencyWindowMs: Int64(m.idempotencyWindow / .milliseconds(1)),
                                 // Room for the envelope around the answer (id, mediation id, flags) in A's frame.
                                 maxAnswerBytes: max(0, config.limits.maxFrameBytes - Self.answerHeadroomBytes))
    }
}
