/// A 1-based line and column in a TOML document (column counts Unicode scalars).
public struct TOMLPosition: Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
}

/// A value together with where it was written. Equality compares values only, not positions.
public struct TOMLItem: Sendable, Equatable {
    public var value: TOMLValue
    /// For a key/value pair: the position of the key. For an array element: the element.
    /// For a `[table]` or `[[table]]`: the header.
    public var position: TOMLPosition

    public init(value: TOMLValue, position: TOMLPosition) {
        self.value = value
        self.position = position
    }

    public static func == (lhs: TOMLItem, rhs: TOMLItem) -> Bool { lhs.value == rhs.value }
}

/// A parsed TOML value. Date and time values are not supported by this parser (the daemon does not use them).
public indirect enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case array([TOMLItem])
    case table(TOMLTable)

    /// A short human name of the value's type, for error messages.
    public var typeName: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .float: return "a float"
        case .boolean: return "a boolean"
        case .array: return "an array"
        case .table: return "a table"
        }
    }

    /// The value as written (roughly), for error messages: strings are quoted.
    public var literal: String {
        switch self {
        case .string(let s): return TOMLValue.quote(s)
        case .integer(let i): return String(i)
        case .float(let d): return String(d)
        case .boolean(let b): return b ? "true" : "false"
        case .array(let items): return "[" + items.map(\.value.literal).joined(separator: ", ") + "]"
        case .table(let t): return "{" + t.entries.map { "\($0.key) = \($0.item.value.literal)" }.joined(separator: ", ") + "}"
        }
    }

    public var arrayValue: [TOMLItem]? { if case .array(let a) = self { return a } else { return nil } }
    public var tableValue: TOMLTable? { if case .table(let t) = self { return t } else { return nil } }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// A TOML table: keys in document order, each with its value and position.
/// Equality compares keys and values in order, not positions.
public struct TOMLTable: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var item: TOMLItem
    }

    /// Entries in the order they were first written.
    public private(set) var entries: [Entry]
    /// Where the table was introduced: its `[header]`, its first dotted key, or the inline table's `{`.
    /// The root table is at 1:1.
    public var position: TOMLPosition
    private var index: [String: Int]

    public init(position: TOMLPosition = TOMLPosition(line: 1, column: 1)) {
        self.entries = []
        self.position = position
        self.index = [:]
    }

    public var keys: [String] { entries.map(\.key) }
    public var isEmpty: Bool { entries.isEmpty }

    public subscript(key: String) -> TOMLValue? { index[key].map { entries[$0].item.value } }

    public func item(_ key: String) -> TOMLItem? { index[key].map { entries[$0].item } }

    /// Adds or replaces an entry (the parser enforces uniqueness before calling this).
    public mutating func set(_ key: String, _ item: TOMLItem) {
        if let i = index[key] {
            entries[i].item = item
        } else {
            index[key] = entries.count
            entries.append(Entry(key: key, item: item))
        }
    }

    public static func == (lhs: TOMLTable, rhs: TOMLTable) -> Bool {
        lhs.entries == rhs.entries
    }
}
