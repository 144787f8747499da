import Foundation
import LinkcoreConfig
import LinkcoreDomain
import LinkcoreWire
import Logging

extension Daemon {
    /// The built-in whitelist table. A missing file means an empty table: every exchange is
    /// refused (deny by default) and the operator is told; a malformed file stops the start.
    static func loadWhitelist(_ path: String, logger: Logger) throws -> BuiltinWhitelist {
        guard FileManager.default.fileExists(atPath: path) else {
            logger.warning("no whitelist table: every mediation will be refused", metadata: ["path": "\(path)"])
            return BuiltinWhitelist(rules: [])
        }
        let table = try BuiltinWhitelist.load(path: path)
        logger.info("whitelist loaded", metadata: ["path": "\(path)", "rules": "\(table.rules.count)"])
        return table
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

extension LCOutcome {
    /// Short names for the STATUS line.
    var label: String {
        switch self {
        case .answered: return "answered"
        case .refusedByWhitelist: return "whitelist"
        case .invalidLink: return "invalid-link"
        case .providerUnavailableOutcome: return "unavailable"
        case .providerRefusedOutcome: return "provider-refused"
        case .timedOut: return "timeout"
        case .policyFailed: return "policy-failed"
        default: return "other"
        }
    }
}
