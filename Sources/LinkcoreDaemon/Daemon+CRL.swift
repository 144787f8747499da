import Foundation
import LinkcoreTLS

/// The CRL's lifetime: past its nextUpdate every peer is refused, so the operator is warned
/// from `[tls] crl_warn_before_ms` before it on (log, STATUS, `linkctl status`).
extension Daemon {
    /// The configured CRL's nextUpdate and, from `[tls] crl_warn_before_ms` before it on, a
    /// warning. Read from the file each time, so a renewed CRL clears it at once.
    func crlState() -> (nextUpdate: Date?, warning: String?) {
        let tls = currentConfig.tls
        return CRLFile.warning(path: tls.crl, warnBefore: tls.crlWarnBefore)
    }

    /// A warning to log now: each state (running out, expired, per nextUpdate) once.
    func newCRLWarning() -> (warning: String, expired: Bool)? {
        let (next, warning) = crlState()
        let expired = next.map { $0 <= Date() } ?? true
        let key = warning.map { _ in "\(next?.timeIntervalSince1970 ?? 0)/\(expired)" }
        let isNew = crlLogged.withLock { last -> Bool in
            defer { last = key }
            return key != nil && last != key
        }
        guard isNew, let warning else { return nil }
        return (warning, expired)
    }
}
