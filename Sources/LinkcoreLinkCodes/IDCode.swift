/// The core's internal identifier for one resident (IDコード): 64 random bits.
///
/// An ID code never leaves the core. Its `description`, `debugDescription` and mirror are redacted
/// so that string interpolation, `print`, `dump` or a logger cannot leak it by accident; use
/// `rawValue` deliberately (for the ID table) when the number itself is needed.
public struct IDCode: Hashable, Sendable {
    public let rawValue: UInt64

    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// A fresh ID code from the system CSPRNG (`getrandom(2)` on Linux).
    ///
    /// 64 random bits are not collision-free at national scale (≈ 4 × 10⁻⁴ chance of one collision
    /// among 1.25 × 10⁸ residents): the ID table must reject a duplicate on insert and draw again.
    public static func random() -> IDCode {
        var rng = SystemRandomNumberGenerator()
        return IDCode(rawValue: rng.next())
    }
}

extension IDCode: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "IDCode(<redacted>)" }
    public var debugDescription: String { "IDCode(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}

/// Which of an organisation's keys a link code was made under (鍵インデックス).
///
/// It travels in clear as the first two characters of the link code, so that keys can rotate
/// while codes issued under older indexes keep opening. Two base32 characters hold
/// `0 ... KeyIndex.maximum` (1023); `LinkCodeKeyring.issue` refuses larger values.
public struct KeyIndex: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// The largest index the text form can carry (10 bits).
    public static let maximum = KeyIndex(rawValue: 1023)

    /// Whether the text form can carry this index.
    public var isValid: Bool { rawValue <= KeyIndex.maximum.rawValue }

    public static func < (lhs: KeyIndex, rhs: KeyIndex) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "KeyIndex(\(rawValue))" }
}

/// Why a keyring could not be made or a link code could not be issued. No case carries key
/// material, an ID code or a code.
public enum LinkCodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The master secret is shorter than `LinkCodeKeyring.minimumMasterSecretLength` bytes.
    case masterSecretTooShort
    /// The organisation code is empty, too long or not printable ASCII (see `docs/link-codes.md`).
    case invalidOrganisation
    /// The key index is above `KeyIndex.maximum`.
    case keyIndexOutOfRange
    /// OpenSSL failed (key derivation or cipher set-up).
    case cryptoFailure

    public var description: String {
        switch self {
        case .masterSecretTooShort: "link-code master secret is too short"
        case .invalidOrganisation: "invalid organisation code for a link code"
        case .keyIndexOutOfRange: "link-code key index out of range"
        case .cryptoFailure: "link-code cryptography failed"
        }
    }
}
