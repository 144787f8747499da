import Foundation
import LinkcorePKI
import LinkcoreTLS
import LinkcoreWire

/// The CRL's lifetime: past its nextUpdate every peer is refused, so the operator is warned
/// from `[tls] crl_warn_before_ms` before it on (log, STATUS, `linkctl status`).
extension CoreComponents {
    /// The configured CRL's nextUpdate and, from `[tls] crl_warn_before_ms` before it on, a
    /// warning. Read from the file each time, so a renewed CRL clears it at once.
    func crlState() -> (nextUpdate: Date?, warning: String?) {
        let tls = live.config.tls
        return CRLFile.warning(path: tls.crl, warnBefore: tls.crlWarnBefore)
    }

    /// A warning to log now: each state (running out, expired, per nextUpdate) once.
    func newCRLWarning() -> (warning: String, expired: Bool)? {
        let tls = live.config.tls
        return crlLogged.newWarning(path: tls.crl, warnBefore: tls.crlWarnBefore)
    }

    /// One spelling per serial: upper-case hex without leading zeros.
    static func serialKey(_ hex: String) -> String {
        let digits = hex.uppercased().drop { $0 == "0" }
        return digits.isEmpty ? "0" : String(digits)
    }

    /// After a reload, ends the open sessions whose client certificate the (new) CRL revokes:
    /// TLS checked the CRL only at the handshake. The network has one CA, so a serial names
    /// one certificate.
    func endRevokedSessions(crlPath: String?) {
        guard let crlPath else { return }
        let revoked: Set<String>
        do {
            revoked = Set(try CRLInfo.parse(pem: String(contentsOfFile: crlPath, encoding: .utf8)).revokedSerials.map(Self.serialKey))
        } catch {
            logger.error("could not read the CRL to check open sessions", metadata: ["path": "\(crlPath)", "error": "\(error)"])
            return
        }
        guard !revoked.isEmpty else { return }
        let ended = registry.endSessions(
            with: WireError(.certificateRejected, "client certificate rejected: certificate revoked"),
            matching: { !$0.certificateSerial.isEmpty && revoked.contains(Self.serialKey($0.certificateSerial)) })
        if ended > 0 { logger.warning("ended sessions of revoked certificates", metadata: ["sessions": "\(ended)"]) }
    }
}
