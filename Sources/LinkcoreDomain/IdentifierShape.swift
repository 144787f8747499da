/// The shapes of identifiers a peer puts in a request (docs/protocol.md §8): checked before any
/// policy module, the store or a log line sees them (issue 12, findings 8 and 11). One place, so
/// that every check (mediation, the access log, log lines) agrees on what is well formed.
public enum IdentifierShape: Sendable {
    /// `bp_id`, `info_type`: 1-64 of `[A-Za-z0-9._:-]`, starting with a letter or digit.
    case token
    /// An organisation code: 2-32 of `[A-Z0-9_-]`, starting with a letter or digit.
    case orgCode

    public var maxLength: Int { self == .token ? 64 : 32 }

    /// Why `value` is not of this shape, or nil when it is. The message never quotes the value.
    public func problem(_ value: String) -> String? {
        let bytes = Array(value.utf8)
        let minimum = self == .token ? 1 : 2
        guard (minimum...maxLength).contains(bytes.count), let first = bytes.first, Self.isAlphanumeric(first, lower: self == .token) else {
            return description
        }
        return bytes.allSatisfy { allowed($0) } ? nil : description
    }

    public func matches(_ value: String) -> Bool { problem(value) == nil }

    private func allowed(_ c: UInt8) -> Bool {
        switch self {
        case .token: Self.isAlphanumeric(c, lower: true) || c == 0x2e || c == 0x5f || c == 0x3a || c == 0x2d
        case .orgCode: Self.isAlphanumeric(c, lower: false) || c == 0x5f || c == 0x2d
        }
    }

    private static func isAlphanumeric(_ c: UInt8, lower: Bool) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (lower && c >= 0x61 && c <= 0x7a)
    }

    private var description: String {
        switch self {
        case .token: "must be 1-64 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit"
        case .orgCode: "must be 2-32 characters of A-Z 0-9 _ - starting with a letter or digit"
        }
    }
}
