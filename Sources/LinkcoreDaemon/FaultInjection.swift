import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Crash points for the tests that prove "every accepted write durable before acknowledged"
/// across a kill. Inert unless the daemon process was started with the variable in its
/// environment (read once, at start); the tests set it only in the environment of the child
/// they spawn. Each point fires at most once per marker file: it creates the marker, then
/// SIGKILLs the daemon, so the restarted daemon (same environment) runs normally.
struct FaultInjection: Sendable {
    /// A path: kill the daemon right after a mediation's access-log entry (and fee) is durable,
    /// before A's reply is sent.
    static let killAfterMediationLog = "LINKCORED_FAULT_KILL_AFTER_MEDIATION_LOG"

    var killAfterMediationLogMarker: String?

    static let none = FaultInjection()

    static func fromEnvironment(logger: Logger) -> FaultInjection {
        var faults = FaultInjection()
        if let marker = ProcessInfo.processInfo.environment[killAfterMediationLog], !marker.isEmpty {
            faults.killAfterMediationLogMarker = marker
            logger.warning("fault injection armed: SIGKILL after the next logged mediation", metadata: ["marker": "\(marker)"])
        }
        return faults
    }

    /// Called after the entry is durable and before the reply is written.
    func mediationLogged() {
        guard let marker = killAfterMediationLogMarker else { return }
        let fd = open(marker, O_CREAT | O_EXCL | O_WRONLY, 0o600)
        guard fd >= 0 else { return }  // already fired once (or cannot mark): stay inert
        fsync(fd)
        close(fd)
        kill(getpid(), SIGKILL)
    }
}
