/// An error in a configuration file: where it is and what is wrong, phrased for an operator.
///
/// `description` reads like a compiler diagnostic:
/// - syntax errors: `linkcored.toml:3:17: expected '=' after key "level"`
/// - schema errors: `linkcored.toml:12: [limits] max_in_flight: expected an integer between 1 and 65536, got "abc"`
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The file could not be read.
        case io
        /// The TOML is malformed (carries a column).
        case syntax
        /// A key or table is defined twice.
        case duplicateKey
        /// A key or table the schema does not know (typo protection).
        case unknownKey
        /// A value has the wrong TOML type.
        case wrongType
        /// A number is outside its permitted range.
        case outOfRange
        /// A value has the right type but is not acceptable (bad address, bad path, unknown enum value...).
        case invalidValue
        /// A required key is absent.
        case missingRequired
        /// A `credential:` path cannot be resolved (no `$CREDENTIALS_DIRECTORY`, bad name).
        case credential
    }

    public var kind: Kind
    /// The file as it was named to the loader (or the `file:` argument of `parse`).
    public var file: String
    public var line: Int?
    public var column: Int?
    /// The table and key, for example `[limits] max_in_flight`, or `[limitz]` for a whole table.
    public var keyPath: String?
    public var message: String

    public init(kind: Kind, file: String, line: Int? = nil, column: Int? = nil, keyPath: String? = nil, message: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        var s = file
        if let line {
            s += ":\(line)"
            if let column { s += ":\(column)" }
        }
        s += ": "
        if let keyPath { s += keyPath + ": " }
        return s + message
    }
}
