import CSystemd
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A swift-log handler that writes structured entries to the systemd journal with `sd_journal_sendv(3)`.
///
/// Fields: `MESSAGE`, `PRIORITY` (syslog level), `SYSLOG_IDENTIFIER`, `CODE_FILE`, `CODE_LINE`,
/// `CODE_FUNC`, `LOGGER` (the logger's label), `ERROR` (when the event carries one), and each metadata
/// key as an upper-cased field (`org` → `ORG=`, `request-id` → `REQUEST_ID=`). Query them with
/// `journalctl -u linkcored ORG=1234 -o verbose`.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    public let label: String
    public let identifier: String

    public init(
        label: String, identifier: String, level: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.label = label
        self.identifier = identifier
        self.logLevel = level
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        if JournalLogHandler.send(fields(for: event)) != 0 {
            // journald unreachable: do not lose the message.
            let line = "\(identifier): <\(JournalLogHandler.priority(event.level))> \(event.message)\n"
            var bytes = Array(line.utf8)
            _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        }
    }

    /// The journal fields for an event: handler metadata, then the metadata provider's, then the
    /// event's own (later ones win on equal keys).
    public func fields(for event: LogEvent) -> [(String, String)] {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var fields = JournalLogHandler.fields(
            level: event.level, message: event.message.description, metadata: merged, identifier: identifier,
            label: label, file: event.file, function: event.function, line: event.line)
        if let error = event.error {
            fields.append(("ERROR", String(describing: error)))
        }
        return fields
    }

    /// Syslog priorities (`PRIORITY=`): trace and debug → 7, info → 6, notice → 5, warning → 4,
    /// error → 3, critical → 2.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// The fields the handler sets itself; metadata keys that sanitise to one of these get a `META_` prefix.
    public static let reservedFields: Set<String> = [
        "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "LOGGER", "ERROR",
        "MESSAGE_ID", "SYSLOG_FACILITY", "SYSLOG_PID", "SYSLOG_TIMESTAMP", "ERRNO", "TID",
    ]

    /// The journal fields for one entry, in order (pure; `send` turns them into iovecs).
    public static func fields(
        level: Logger.Level, message: String, metadata: Logger.Metadata, identifier: String, label: String,
        file: String, function: String, line: UInt
    ) -> [(String, String)] {
        var result: [(String, String)] = [
            ("MESSAGE", message),
            ("PRIORITY", String(priority(level))),
            ("SYSLOG_IDENTIFIER", identifier),
            ("CODE_FILE", file),
            ("CODE_LINE", String(line)),
            ("CODE_FUNC", function),
            ("LOGGER", label),
        ]
        var used = Set(result.map(\.0))
        for key in metadata.keys.sorted() {
            guard let value = metadata[key], var name = fieldName(key) else { continue }
            if reservedFields.contains(name) || used.contains(name) { name = String(("META_" + name).prefix(64)) }
            guard !used.contains(name) else { continue }
            used.insert(name)
            result.append((name, render(value)))
        }
        return result
    }

    /// A journal field name for a metadata key: upper-cased, other characters → `_`, no leading `_` or
    /// digit (a `F_` prefix is added before a digit), at most 64 characters. Nil when nothing is left.
    public static func fieldName(_ key: String) -> String? {
        var out = ""
        for scalar in key.unicodeScalars {
            switch scalar {
            case "a"..."z": out.unicodeScalars.append(Unicode.Scalar(scalar.value - 32) ?? "_")
            case "A"..."Z", "0"..."9", "_": out.unicodeScalars.append(scalar)
            default: out.append("_")
            }
        }
        while out.hasPrefix("_") { out.removeFirst() }
        guard let first = out.unicodeScalars.first else { return nil }
        if ("0"..."9").contains(first) { out = "F_" + out }
        return String(out.prefix(64))
    }

    /// Metadata values as text: strings as-is, arrays as `[a, b]`, dictionaries as `[k: v]`.
    public static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c): return c.description
        case .array(let items): return "[" + items.map(render).joined(separator: ", ") + "]"
        case .dictionary(let dict):
            return "[" + dict.keys.sorted().map { "\($0): \(dict[$0].map(render) ?? "")" }.joined(separator: ", ") + "]"
        }
    }

    /// Sends `KEY=value` fields with `sd_journal_sendv`; returns its result (0 or a negative errno).
    @discardableResult
    public static func send(_ fields: [(String, String)]) -> Int32 {
        // One contiguous buffer holding every "KEY=value"; iovecs point into it.
        var buffer: [UInt8] = []
        var ranges: [(Int, Int)] = []
        for (key, value) in fields {
            let start = buffer.count
            buffer.append(contentsOf: key.utf8)
            buffer.append(UInt8(ascii: "="))
            buffer.append(contentsOf: value.utf8)
            ranges.append((start, buffer.count - start))
        }
        return buffer.withUnsafeMutableBytes { raw -> Int32 in
            guard let base = raw.baseAddress else { return -EINVAL }
            var iov = ranges.map { iovec(iov_base: base + $0.0, iov_len: $0.1) }
            return sd_journal_sendv(&iov, Int32(iov.count))
        }
    }
}
