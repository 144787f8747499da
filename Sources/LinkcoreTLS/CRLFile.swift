import COpenSSL
import Foundation
import Synchronization

/// What the daemons need to know about a CRL file beyond loading it: when it runs out. Past its
/// nextUpdate OpenSSL refuses every certificate checked against it (CRL_HAS_EXPIRED), so an
/// operator must be warned before, not find out from a network of refused peers.
public enum CRLFile {
    /// The earliest nextUpdate of the CRLs in the PEM file, or nil (unreadable, or none given).
    public static func nextUpdate(path: String) -> Date? {
        var seconds: Int64 = 0
        guard lc_crl_file_next_update(path, &seconds) == 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    /// A warning when `now` is within `warnBefore` of the CRL's nextUpdate or past it; nil when
    /// the CRL is good for longer (or there is none).
    public static func warning(path: String?, warnBefore: Duration, now: Date = Date()) -> (nextUpdate: Date?, warning: String?) {
        guard let path else { return (nil, nil) }
        guard let next = nextUpdate(path: path) else {
            return (nil, "the CRL \(path) cannot be read or has no nextUpdate")
        }
        let left = next.timeIntervalSince(now)
        let at = ISO8601DateFormatter().string(from: next)
        if left <= 0 {
            return (next, "the CRL \(path) expired at \(at): every peer certificate is refused until a new CRL is installed and reloaded")
        }
        let (seconds, _) = warnBefore.components
        guard left <= TimeInterval(seconds) else { return (next, nil) }
        let hours = Int(left / 3600)
        return (next, "the CRL \(path) runs out at \(at) (in \(hours) h): install a new one and reload before then, or every peer will be refused")
    }
}

/// Which CRL warning was logged last, so that each state (running out, expired; per nextUpdate)
/// is logged once rather than at every status tick. One definition for the core and the matcher.
public final class CRLWarningLatch: Sendable {
    private let last = Mutex<String?>(nil)

    public init() {}

    /// The warning to log now and whether the CRL has expired, or nil when there is nothing new.
    public func newWarning(path: String?, warnBefore: Duration, now: Date = Date()) -> (warning: String, expired: Bool)? {
        let (next, warning) = CRLFile.warning(path: path, warnBefore: warnBefore, now: now)
        let expired = next.map { $0 <= now } ?? true
        let key = warning.map { _ in "\(next?.timeIntervalSince1970 ?? 0)/\(expired)" }
        let isNew = last.withLock { last -> Bool in
            defer { last = key }
            return key != nil && last != key
        }
        guard isNew, let warning else { return nil }
        return (warning, expired)
    }
}
