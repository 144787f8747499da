import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Chooses where the process logs: the journal under systemd, stderr otherwise.
public enum LogSetup {
    /// Bootstraps swift-log: ``JournalLogHandler`` when stderr is connected to the journal
    /// (``isUnderJournald``), else swift-log's `StreamLogHandler` on stderr. Call once per process
    /// (swift-log allows a single bootstrap).
    public static func bootstrap(identifier: String, level: Logger.Level) {
        if isUnderJournald {
            LoggingSystem.bootstrap { label in
                JournalLogHandler(label: label, identifier: identifier, level: level)
            }
        } else {
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }

    /// True when `$JOURNAL_STREAM` names stderr's device and inode, i.e. systemd connected stderr to
    /// the journal for this process (systemd.exec(5)); false for a terminal, a pipe or a redirected stderr.
    public static var isUnderJournald: Bool {
        isUnderJournald(journalStream: getenv("JOURNAL_STREAM").map { String(cString: $0) })
    }

    /// ``isUnderJournald`` for a given `$JOURNAL_STREAM` value (nil: unset), checked against stderr.
    public static func isUnderJournald(journalStream value: String?) -> Bool {
        guard let value else { return false }
        var st = stat()
        guard fstat(STDERR_FILENO, &st) == 0 else { return false }
        return journalStreamMatches(value, device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    /// Whether a `$JOURNAL_STREAM` value (`"<device>:<inode>"`, decimal) matches a file's device and inode.
    public static func journalStreamMatches(_ value: String, device: UInt64, inode: UInt64) -> Bool {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let dev = UInt64(parts[0]), let ino = UInt64(parts[1]) else { return false }
        return dev == device && ino == inode
    }
}
