/// The shapes of identifiers a peer, an operator or a configuration file gives (docs/protocol.md
/// §1 and §8): checked before any policy module, the store or a log line sees them (issue 12,
/// findings 8 and 11). One definition in a target with no dependencies, so that the certificate
/// check (LinkcoreTLS), the PKI tooling, the configuration loaders and the domain all agree on
/// what is well formed without any of them depending on another.
public enum IdentifierShape: Sendable {
    /// `bp_id`, `info_type`: 1-64 of `[A-Za-z0-9._:-]`, starting with a letter or digit.
    case token
    /// An organisation code: 2-32 of `[A-Z0-9_-]`, starting with a letter or digit
    /// (`^[A-Z0-9][A-Z0-9_-]{1,31}$`).
    case orgCode
    /// A mediation's `idempotency_key`: 1-64 of `[A-Za-z0-9_-]` (safe in logs and file names,
    /// long enough for a UUID).
    case idempotencyKey

    public var maxLength: Int { self == .orgCode ? 32 : 64 }

    /// Why `value` is not of this shape, or nil when it is. The message never quotes the value.
    public func problem(_ value: String) -> String? {
        let bytes = Array(value.utf8)
        let minimum = self == .orgCode ? 2 : 1
        guard (minimum...maxLength).contains(bytes.count), let first = bytes.first, firstAllowed(first) else {
            return description
        }
        return bytes.allSatisfy { allowed($0) } ? nil : description
    }

    public func matches(_ value: String) -> Bool { problem(value) == nil }

    private func firstAllowed(_ c: UInt8) -> Bool {
        switch self {
        case .token: Self.isAlphanumeric(c, lower: true)
        case .orgCode: Self.isAlphanumeric(c, lower: false)
        case .idempotencyKey: allowed(c)
        }
    }

    private func allowed(_ c: UInt8) -> Bool {
        switch self {
        case .token: Self.isAlphanumeric(c, lower: true) || c == 0x2e || c == 0x5f || c == 0x3a || c == 0x2d
        case .orgCode: Self.isAlphanumeric(c, lower: false) || c == 0x5f || c == 0x2d
        case .idempotencyKey: Self.isAlphanumeric(c, lower: true) || c == 0x5f || c == 0x2d
        }
    }

    private static func isAlphanumeric(_ c: UInt8, lower: Bool) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (lower && c >= 0x61 && c <= 0x7a)
    }

    private var description: String {
        switch self {
        case .token: "must be 1-64 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit"
        case .orgCode: "must be 2-32 characters of A-Z 0-9 _ - starting with a letter or digit"
        case .idempotencyKey: "must be 1-64 characters of A-Z a-z 0-9 _ -"
        }
    }
}

/// The SAN URI that binds an organisation code to a certificate (docs/protocol.md §1), read by
/// the server's certificate check and written by the PKI tooling.
public enum OrgURI {
    public static let prefix = "urn:linkcore:org:"

    /// The organisation code in a SAN URI, or nil when the URI is not an org URI or the code is
    /// not of the `orgCode` shape: `urn:linkcore:org:city01` binds no organisation.
    public static func code(from uri: String) -> String? {
        guard uri.hasPrefix(prefix) else { return nil }
        let code = String(uri.dropFirst(prefix.count))
        return IdentifierShape.orgCode.matches(code) ? code : nil
    }
}
