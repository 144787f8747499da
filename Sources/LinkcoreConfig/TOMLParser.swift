/// A strict parser for the subset of TOML 1.0 the daemon needs.
///
/// Supported: comments; `[table]`, dotted `[a.b]` and `[[array.of.tables]]` headers; bare, quoted and
/// dotted keys; basic, literal and multi-line strings (escapes `\b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX`);
/// integers (decimal with `_` and sign, `0x`/`0o`/`0b`); floats (incl. `inf`, `nan`); booleans; arrays
/// (multi-line, trailing comma); inline tables. Not supported: dates and times (an error says so).
///
/// Strictness: duplicate keys, redefined tables, extending inline tables or static arrays, control
/// characters, invalid UTF-8, leading zeros, misplaced underscores and integer overflow are all errors.
/// Every error is a ``ConfigError`` with file, line and column.
public struct TOMLParser {
    public init() {}

    /// Parses `text`; `file` is only used in error messages.
    public func parse(_ text: String, file: String = "<input>") throws(ConfigError) -> TOMLTable {
        var state = ParserState(bytes: Array(text.utf8), file: file)
        return try state.parseDocument()
    }

    /// Parses raw bytes, rejecting invalid UTF-8 with a positioned error.
    public func parse(bytes: [UInt8], file: String = "<input>") throws(ConfigError) -> TOMLTable {
        var state = ParserState(bytes: bytes, file: file)
        try state.validateUTF8()
        return try state.parseDocument()
    }
}

// MARK: - Tree under construction

private final class TableNode {
    enum Kind {
        /// Created as an intermediate of a header (`[a.b]` creates `a`); may later get its own header.
        case implicit
        /// Defined by a `[header]` or `[[header]]`.
        case header
        /// Created by a dotted key (`a.b = 1` creates `a`).
        case dotted
        /// An inline table's root.
        case inline
    }

    var kind: Kind
    var position: TOMLPosition
    let name: String
    var order: [String] = []
    var children: [String: Child] = [:]

    init(kind: Kind, position: TOMLPosition, name: String) {
        self.kind = kind
        self.position = position
        self.name = name
    }

    func insert(_ key: String, _ child: Child) {
        if children[key] == nil { order.append(key) }
        children[key] = child
    }

    func childName(_ key: String) -> String {
        let k = TableNode.displayKey(key)
        return name.isEmpty ? k : name + "." + k
    }

    static func displayKey(_ key: String) -> String {
        let bare = !key.isEmpty && key.utf8.allSatisfy { isBareKeyByte($0) }
        return bare ? key : TOMLValue.quote(key)
    }

    func toTable() -> TOMLTable {
        var table = TOMLTable(position: position)
        for key in order {
            guard let child = children[key] else { continue }
            switch child {
            case .value(let value, let pos):
                table.set(key, TOMLItem(value: value, position: pos))
            case .table(let node):
                table.set(key, TOMLItem(value: .table(node.toTable()), position: node.position))
            case .tableArray(let array):
                let items = array.tables.map { TOMLItem(value: .table($0.toTable()), position: $0.position) }
                table.set(key, TOMLItem(value: .array(items), position: array.position))
            }
        }
        return table
    }
}

private final class TableArrayNode {
    var tables: [TableNode]
    let position: TOMLPosition
    init(first: TableNode) {
        self.tables = [first]
        self.position = first.position
    }
}

private enum Child {
    /// A plain value, a static array or an inline table: all closed to further definitions.
    case value(TOMLValue, TOMLPosition)
    case table(TableNode)
    case tableArray(TableArrayNode)

    var position: TOMLPosition {
        switch self {
        case .value(_, let p): return p
        case .table(let t): return t.position
        case .tableArray(let a): return a.position
        }
    }
}

private func isBareKeyByte(_ c: UInt8) -> Bool {
    (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
        || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
}

private func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

// MARK: - Parser

private struct ParserState {
    let bytes: [UInt8]
    let file: String
    var i = 0
    var line = 1
    var lineStart = 0

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
    }

    // MARK: Positions and errors

    var position: TOMLPosition { position(at: i) }

    func position(at offset: Int) -> TOMLPosition {
        // Column in Unicode scalars: count bytes that are not UTF-8 continuation bytes.
        var column = 1
        var k = lineStart
        while k < offset && k < bytes.count {
            if bytes[k] & 0xC0 != 0x80 { column += 1 }
            k += 1
        }
        return TOMLPosition(line: line, column: column)
    }

    func error(_ message: String, at pos: TOMLPosition? = nil, kind: ConfigError.Kind = .syntax) -> ConfigError {
        let p = pos ?? position
        return ConfigError(kind: kind, file: file, line: p.line, column: p.column, message: message)
    }

    func describeCurrent() -> String {
        guard i < bytes.count else { return "end of file" }
        let c = bytes[i]
        switch c {
        case UInt8(ascii: "\n"), UInt8(ascii: "\r"): return "end of line"
        case 0x20..<0x7F: return "'\(String(UnicodeScalar(c)))'"
        default:
            // Show the whole scalar for non-ASCII text.
            var end = i + 1
            while end < bytes.count && bytes[end] & 0xC0 == 0x80 { end += 1 }
            let s = String(decoding: bytes[i..<end], as: UTF8.self)
            if c < 0x20 || c == 0x7F { return "control character U+\(String(format4: UInt32(c)))" }
            return "'\(s)'"
        }
    }

    mutating func validateUTF8() throws(ConfigError) {
        // Find the first invalid byte sequence to report its line.
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        var offset = 0
        var scalarStart = 0
        loop: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                if scalar == "\n" {
                    line += 1
                    lineStart = offset + 1
                }
                offset += UTF8.width(scalar)
                scalarStart = offset
            case .emptyInput:
                break loop
            case .error:
                i = scalarStart
                throw error("invalid UTF-8 (TOML files must be UTF-8 text)")
            }
        }
        line = 1
        lineStart = 0
        i = 0
    }

    // MARK: Low-level scanning

    var atEnd: Bool { i >= bytes.count }

    func peek(_ ahead: Int = 0) -> UInt8? {
        let k = i + ahead
        return k < bytes.count ? bytes[k] : nil
    }

    func lookingAt(_ s: String) -> Bool {
        var k = i
        for b in s.utf8 {
            guard k < bytes.count, bytes[k] == b else { return false }
            k += 1
        }
        return true
    }

    mutating func skipWhitespace() {
        while let c = peek(), c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { i += 1 }
    }

    /// Consumes a newline (LF or CRLF) if there is one.
    mutating func consumeNewline() throws(ConfigError) -> Bool {
        if peek() == UInt8(ascii: "\n") {
            i += 1
            line += 1
            lineStart = i
            return true
        }
        if peek() == UInt8(ascii: "\r") {
            guard peek(1) == UInt8(ascii: "\n") else { throw error("carriage return must be followed by a line feed") }
            i += 2
            line += 1
            lineStart = i
            return true
        }
        return false
    }

    /// Consumes a `#` comment up to (not including) the end of line.
    mutating func skipComment() throws(ConfigError) {
        guard peek() == UInt8(ascii: "#") else { return }
        i += 1
        while let c = peek(), c != UInt8(ascii: "\n") {
            if c == UInt8(ascii: "\r") && peek(1) == UInt8(ascii: "\n") { break }
            if (c < 0x20 && c != UInt8(ascii: "\t")) || c == 0x7F {
                throw error("control characters are not allowed in comments")
            }
            i += 1
        }
    }

    /// After a key/value pair or header: whitespace, an optional comment, then a newline or the end.
    mutating func expectLineEnd(after what: String) throws(ConfigError) {
        skipWhitespace()
        try skipComment()
        if atEnd { return }
        if try consumeNewline() { return }
        throw error("expected a new line after \(what), found \(describeCurrent())")
    }

    /// Whitespace, comments and newlines, as allowed inside arrays.
    mutating func skipBlank() throws(ConfigError) {
        while true {
            skipWhitespace()
            try skipComment()
            if try !consumeNewline() { return }
        }
    }

    // MARK: Document

    mutating func parseDocument() throws(ConfigError) -> TOMLTable {
        let root = TableNode(kind: .header, position: TOMLPosition(line: 1, column: 1), name: "")
        var current = root
        while true {
            try skipBlank()
            guard let c = peek() else { break }
            if c == UInt8(ascii: "[") {
                current = try parseHeader(root: root)
                try expectLineEnd(after: "the table header")
            } else {
                try parseKeyValue(into: current)
                try expectLineEnd(after: "the value")
            }
        }
        return root.toTable()
    }

    // MARK: Keys

    /// A dotted key: one or more simple keys separated by `.`, each with its position.
    mutating func parseKey() throws(ConfigError) -> [(key: String, position: TOMLPosition)] {
        var parts: [(key: String, position: TOMLPosition)] = []
        while true {
            skipWhitespace()
            let pos = position
            guard let c = peek() else { throw error("expected a key, found end of file") }
            let key: String
            if c == UInt8(ascii: "\"") {
                if lookingAt("\"\"\"") { throw error("multi-line strings cannot be used as keys") }
                key = try parseBasicString()
            } else if c == UInt8(ascii: "'") {
                if lookingAt("'''") { throw error("multi-line strings cannot be used as keys") }
                key = try parseLiteralString()
            } else if isBareKeyByte(c) {
                let start = i
                while let b = peek(), isBareKeyByte(b) { i += 1 }
                key = String(decoding: bytes[start..<i], as: UTF8.self)
            } else if parts.isEmpty {
                throw error("expected a key, found \(describeCurrent())")
            } else {
                throw error("expected a key after '.', found \(describeCurrent())")
            }
            parts.append((key, pos))
            skipWhitespace()
            if peek() == UInt8(ascii: ".") {
                i += 1
                continue
            }
            return parts
        }
    }

    static func dotted(_ parts: [(key: String, position: TOMLPosition)]) -> String {
        parts.map { TableNode.displayKey($0.key) }.joined(separator: ".")
    }

    // MARK: Headers

    mutating func parseHeader(root: TableNode) throws(ConfigError) -> TableNode {
        let headerPos = position
        i += 1  // [
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { i += 1 }
        let parts = try parseKey()
        skipWhitespace()
        guard peek() == UInt8(ascii: "]") else {
            throw error("expected '\(isArray ? "]]" : "]")' to close the table header, found \(describeCurrent())")
        }
        i += 1
        if isArray {
            guard peek() == UInt8(ascii: "]") else {
                throw error("expected ']]' to close the array-of-tables header, found \(describeCurrent())")
            }
            i += 1
        }
        let display = ParserState.dotted(parts)

        // Walk to the parent, creating implicit tables.
        var node = root
        for part in parts.dropLast() {
            switch node.children[part.key] {
            case nil:
                let t = TableNode(kind: .implicit, position: headerPos, name: node.childName(part.key))
                node.insert(part.key, .table(t))
                node = t
            case .table(let t)?:
                node = t
            case .tableArray(let a)?:
                guard let last = a.tables.last else { throw error("internal: empty array of tables", at: part.position) }
                node = last
            case .value(let v, let p)?:
                throw error(
                    "cannot use \(node.childName(part.key)) as a table: it is already \(v.typeName) (line \(p.line))",
                    at: part.position, kind: .duplicateKey)
            }
        }
        guard let last = parts.last else { throw error("expected a key in the table header", at: headerPos) }
        let name = node.childName(last.key)
        let existing = node.children[last.key]

        if isArray {
            let t = TableNode(kind: .header, position: headerPos, name: name)
            switch existing {
            case nil:
                node.insert(last.key, .tableArray(TableArrayNode(first: t)))
            case .tableArray(let a)?:
                a.tables.append(t)
            case .table(let other)?:
                throw error(
                    "cannot define [[\(display)]] as an array of tables: [\(name)] is already a table (line \(other.position.line))",
                    at: headerPos, kind: .duplicateKey)
            case .value(let v, let p)?:
                throw error(
                    "cannot define [[\(display)]]: key \(name) already has \(v.typeName) value (line \(p.line))",
                    at: headerPos, kind: .duplicateKey)
            }
            return t
        }

        switch existing {
        case nil:
            let t = TableNode(kind: .header, position: headerPos, name: name)
            node.insert(last.key, .table(t))
            return t
        case .table(let t)?:
            switch t.kind {
            case .implicit:
                t.kind = .header
                t.position = headerPos
                return t
            case .header, .inline:
                throw error("duplicate table [\(name)] (first defined at line \(t.position.line))", at: headerPos, kind: .duplicateKey)
            case .dotted:
                throw error(
                    "cannot define table [\(name)]: it was already defined by dotted keys (line \(t.position.line))",
                    at: headerPos, kind: .duplicateKey)
            }
        case .tableArray(let a)?:
            throw error(
                "cannot define table [\(name)]: it is already an array of tables (line \(a.position.line))",
                at: headerPos, kind: .duplicateKey)
        case .value(let v, let p)?:
            throw error(
                "cannot define table [\(name)]: key \(name) already has \(v.typeName) value (line \(p.line))",
                at: headerPos, kind: .duplicateKey)
        }
    }

    // MARK: Key/value pairs

    mutating func parseKeyValue(into table: TableNode) throws(ConfigError) {
        let parts = try parseKey()
        skipWhitespace()
        guard peek() == UInt8(ascii: "=") else {
            throw error("expected '=' after key \(ParserState.dotted(parts)), found \(describeCurrent())")
        }
        i += 1
        skipWhitespace()
        let valuePos = position
        let value = try parseValue()
        try insert(parts, value: value, valuePosition: valuePos, into: table)
    }

    func insert(
        _ parts: [(key: String, position: TOMLPosition)], value: TOMLValue, valuePosition: TOMLPosition, into table: TableNode
    ) throws(ConfigError) {
        var node = table
        for part in parts.dropLast() {
            switch node.children[part.key] {
            case nil:
                let t = TableNode(kind: .dotted, position: part.position, name: node.childName(part.key))
                node.insert(part.key, .table(t))
                node = t
            case .table(let t)?:
                guard t.kind == .dotted else {
                    throw error(
                        "cannot add keys to table [\(t.name)] with dotted keys here: it is defined at line \(t.position.line)",
                        at: part.position, kind: .duplicateKey)
                }
                node = t
            case .tableArray(let a)?:
                throw error(
                    "cannot add to \(node.childName(part.key)) with a dotted key: it is an array of tables (line \(a.position.line))",
                    at: part.position, kind: .duplicateKey)
            case .value(let v, let p)?:
                let what: String
                if case .table = v { what = "an inline table, which cannot be extended" } else { what = v.typeName }
                throw error(
                    "cannot use \(node.childName(part.key)) as a table: it is already \(what) (line \(p.line))",
                    at: part.position, kind: .duplicateKey)
            }
        }
        guard let last = parts.last else { throw error("expected a key", at: valuePosition) }
        if let existing = node.children[last.key] {
            throw error(
                "duplicate key \(node.childName(last.key)) (first defined at line \(existing.position.line))",
                at: last.position, kind: .duplicateKey)
        }
        node.insert(last.key, .value(value, last.position))
    }

    // MARK: Values

    mutating func parseValue() throws(ConfigError) -> TOMLValue {
        guard let c = peek() else { throw error("expected a value, found end of file") }
        switch c {
        case UInt8(ascii: "\""):
            return .string(lookingAt("\"\"\"") ? try parseMultilineBasicString() : try parseBasicString())
        case UInt8(ascii: "'"):
            return .string(lookingAt("'''") ? try parseMultilineLiteralString() : try parseLiteralString())
        case UInt8(ascii: "["):
            return try parseArray()
        case UInt8(ascii: "{"):
            return try parseInlineTable()
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            if lookingAt("true") && isDelimiter(peek(4)) {
                i += 4
                return .boolean(true)
            }
            if lookingAt("false") && isDelimiter(peek(5)) {
                i += 5
                return .boolean(false)
            }
            throw error("expected a value, found \(describeToken()) (strings must be quoted)")
        case UInt8(ascii: "i"), UInt8(ascii: "n"):
            if (lookingAt("inf") || lookingAt("nan")) && isDelimiter(peek(3)) { return try parseNumber() }
            throw error("expected a value, found \(describeToken()) (strings must be quoted)")
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber()
        case UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "#"):
            throw error("expected a value after '=', found \(describeCurrent())")
        default:
            throw error("expected a value, found \(describeToken()) (strings must be quoted)")
        }
    }

    func isDelimiter(_ c: UInt8?) -> Bool {
        guard let c else { return true }
        switch c {
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: ","),
            UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: "#"):
            return true
        default:
            return false
        }
    }

    /// The run of non-delimiter characters at the cursor, for error messages.
    func describeToken() -> String {
        var k = i
        while k < bytes.count && !isDelimiter(bytes[k]) && k - i < 40 { k += 1 }
        if k == i { return describeCurrent() }
        return "'" + String(decoding: bytes[i..<k], as: UTF8.self) + "'"
    }

    mutating func parseArray() throws(ConfigError) -> TOMLValue {
        let open = position
        i += 1  // [
        var items: [TOMLItem] = []
        while true {
            try skipBlank()
            guard let c = peek() else { throw error("unterminated array (opened at \(open))") }
            if c == UInt8(ascii: "]") {
                i += 1
                return .array(items)
            }
            let pos = position
            items.append(TOMLItem(value: try parseValue(), position: pos))
            try skipBlank()
            guard let d = peek() else { throw error("unterminated array (opened at \(open))") }
            if d == UInt8(ascii: ",") {
                i += 1
            } else if d == UInt8(ascii: "]") {
                i += 1
                return .array(items)
            } else {
                throw error("expected ',' or ']' in array, found \(describeCurrent())")
            }
        }
    }

    mutating func parseInlineTable() throws(ConfigError) -> TOMLValue {
        let open = position
        i += 1  // {
        let node = TableNode(kind: .inline, position: open, name: "")
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            i += 1
            return .table(node.toTable())
        }
        while true {
            skipWhitespace()
            if peek() == UInt8(ascii: "\n") || peek() == UInt8(ascii: "\r") {
                throw error("inline tables must be on one line (opened at \(open))")
            }
            let parts = try parseKey()
            skipWhitespace()
            guard peek() == UInt8(ascii: "=") else {
                throw error("expected '=' after key \(ParserState.dotted(parts)), found \(describeCurrent())")
            }
            i += 1
            skipWhitespace()
            let valuePos = position
            let value = try parseValue()
            try insert(parts, value: value, valuePosition: valuePos, into: node)
            skipWhitespace()
            guard let c = peek() else { throw error("unterminated inline table (opened at \(open))") }
            if c == UInt8(ascii: "}") {
                i += 1
                return .table(node.toTable())
            }
            guard c == UInt8(ascii: ",") else {
                if c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") {
                    throw error("inline tables must be on one line (opened at \(open))")
                }
                throw error("expected ',' or '}' in inline table, found \(describeCurrent())")
            }
            i += 1
            skipWhitespace()
            if peek() == UInt8(ascii: "}") { throw error("trailing comma is not allowed in an inline table") }
        }
    }

    // MARK: Strings

    mutating func checkStringByte(_ c: UInt8, multiline: Bool) throws(ConfigError) {
        if c == UInt8(ascii: "\t") { return }
        if c == 0x7F || c < 0x20 {
            if multiline && (c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r")) { return }
            if c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") {
                throw error("unterminated string (strings cannot span lines; use \"\"\" for multi-line strings)")
            }
            throw error("control character U+\(String(format4: UInt32(c))) must be escaped in a string")
        }
    }

    mutating func parseBasicString() throws(ConfigError) -> String {
        let open = position
        i += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw error("unterminated string (opened at \(open))") }
            if c == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c == UInt8(ascii: "\\") {
                try parseEscape(into: &out)
                continue
            }
            try checkStringByte(c, multiline: false)
            out.append(c)
            i += 1
        }
    }

    mutating func parseEscape(into out: inout [UInt8]) throws(ConfigError) {
        let escPos = position
        i += 1  // backslash
        guard let e = peek() else { throw error("unterminated escape sequence", at: escPos) }
        i += 1
        switch e {
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = e == UInt8(ascii: "u") ? 4 : 8
            var value: UInt32 = 0
            for _ in 0..<count {
                guard let h = peek(), let d = hexValue(h) else {
                    throw error("invalid escape: \\\(String(UnicodeScalar(e))) needs exactly \(count) hex digits", at: escPos)
                }
                value = value * 16 + d
                i += 1
            }
            guard let scalar = Unicode.Scalar(value) else {
                throw error("invalid escape: U+\(String(format4: value)) is not a Unicode scalar value", at: escPos)
            }
            out.append(contentsOf: Array(String(scalar).utf8))
        default:
            i -= 1
            throw error("invalid escape sequence '\\\(describeCurrent().trimmingQuotes)'", at: escPos)
        }
    }

    func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(c - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    mutating func parseMultilineBasicString() throws(ConfigError) -> String {
        let open = position
        i += 3
        _ = try consumeNewline()  // a newline right after the opening delimiter is trimmed
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw error("unterminated multi-line string (opened at \(open))") }
            if let closed = try closeMultiline(quote: UInt8(ascii: "\""), at: c, into: &out) { return closed }
            if c == UInt8(ascii: "\\") {
                // Line-ending backslash: trims whitespace and newlines up to the next non-blank.
                var k = i + 1
                while k < bytes.count && (bytes[k] == UInt8(ascii: " ") || bytes[k] == UInt8(ascii: "\t")) { k += 1 }
                if k < bytes.count && (bytes[k] == UInt8(ascii: "\n") || bytes[k] == UInt8(ascii: "\r")) {
                    i = k
                    while true {
                        skipWhitespace()
                        if try !consumeNewline() { break }
                    }
                    continue
                }
                try parseEscape(into: &out)
                continue
            }
            try appendMultiline(c, into: &out)
        }
    }

    /// At a closing `"""` or `'''` (up to two more quotes belong to the content): the string.
    mutating func closeMultiline(quote: UInt8, at c: UInt8, into out: inout [UInt8]) throws(ConfigError) -> String? {
        guard c == quote, peek(1) == quote, peek(2) == quote else { return nil }
        var quotes = 3
        while peek(quotes) == quote { quotes += 1 }
        if quotes > 5 { throw error("too many quotes at the end of a multi-line string") }
        out.append(contentsOf: Array(repeating: quote, count: quotes - 3))
        i += quotes
        return String(decoding: out, as: UTF8.self)
    }

    /// One byte of a multi-line string's body: newlines fold to \n, others are checked and kept.
    mutating func appendMultiline(_ c: UInt8, into out: inout [UInt8]) throws(ConfigError) {
        if c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") {
            _ = try consumeNewline()
            out.append(UInt8(ascii: "\n"))
            return
        }
        try checkStringByte(c, multiline: true)
        out.append(c)
        i += 1
    }

    mutating func parseLiteralString() throws(ConfigError) -> String {
        let open = position
        i += 1
        let start = i
        while true {
            guard let c = peek() else { throw error("unterminated string (opened at \(open))") }
            if c == UInt8(ascii: "'") {
                let s = String(decoding: bytes[start..<i], as: UTF8.self)
                i += 1
                return s
            }
            try checkStringByte(c, multiline: false)
            i += 1
        }
    }

    mutating func parseMultilineLiteralString() throws(ConfigError) -> String {
        let open = position
        i += 3
        _ = try consumeNewline()
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw error("unterminated multi-line string (opened at \(open))") }
            if let closed = try closeMultiline(quote: UInt8(ascii: "'"), at: c, into: &out) { return closed }
            try appendMultiline(c, into: &out)
        }
    }

    // MARK: Numbers

    mutating func parseNumber() throws(ConfigError) -> TOMLValue {
        let start = i
        let pos = position
        while let c = peek(), !isDelimiter(c) { i += 1 }
        // A space followed by a time (`1979-05-27 07:32:00`) would also be a date; the first part is enough to tell.
        let token = String(decoding: bytes[start..<i], as: UTF8.self)
        let t = Array(token.utf8)
        if token.contains(":") || (t.count >= 5 && t[0..<4].allSatisfy(isDigit) && t[4] == UInt8(ascii: "-")) {
            throw error("date and time values are not supported; write the value as a string", at: pos)
        }
        func bad(_ why: String) -> ConfigError { error("invalid number '\(token)': \(why)", at: pos) }

        var body = t[...]
        var negative = false
        if let f = body.first, f == UInt8(ascii: "+") || f == UInt8(ascii: "-") {
            negative = f == UInt8(ascii: "-")
            body = body.dropFirst()
        }
        let bodyString = String(decoding: body, as: UTF8.self)
        if bodyString == "inf" { return .float(negative ? -.infinity : .infinity) }
        if bodyString == "nan" { return .float(.nan) }
        guard !body.isEmpty else { throw bad("no digits") }

        // Prefixed integers: 0x, 0o, 0b (no sign allowed).
        if body.count >= 2 && body[body.startIndex] == UInt8(ascii: "0"),
            let radix = [UInt8(ascii: "x"): 16, UInt8(ascii: "o"): 8, UInt8(ascii: "b"): 2][body[body.startIndex + 1]]
        {
            if t.first == UInt8(ascii: "+") || t.first == UInt8(ascii: "-") {
                throw bad("a sign is not allowed on hexadecimal, octal or binary integers")
            }
            let digits = try checkedDigits(body.dropFirst(2), token: token, pos: pos) { c in
                guard let v = hexValue(c) else { return false }
                return v < radix
            }
            guard let v = Int64(digits, radix: radix) else { throw bad("out of range for a 64-bit integer") }
            return .integer(v)
        }

        let isFloat = body.contains(UInt8(ascii: ".")) || body.contains(UInt8(ascii: "e")) || body.contains(UInt8(ascii: "E"))
        if !isFloat {
            let digits = try checkedDigits(body, token: token, pos: pos, isValid: isDigit)
            if digits.count > 1 && digits.hasPrefix("0") { throw bad("leading zeros are not allowed") }
            guard let v = Int64((negative ? "-" : "") + digits) else { throw bad("out of range for a 64-bit integer") }
            return .integer(v)
        }

        // Float: int-part [ '.' digits ] [ (e|E) [+-] digits ]
        var intPart = body[...]
        var frac: ArraySlice<UInt8>? = nil
        var exp: ArraySlice<UInt8>? = nil
        if let e = body.firstIndex(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            exp = body[(e + 1)...]
            intPart = body[..<e]
        }
        if let dot = intPart.firstIndex(of: UInt8(ascii: ".")) {
            frac = intPart[(dot + 1)...]
            intPart = intPart[..<dot]
        }
        let intDigits = try checkedDigits(intPart, token: token, pos: pos, isValid: isDigit)
        if intDigits.count > 1 && intDigits.hasPrefix("0") { throw bad("leading zeros are not allowed") }
        var text = (negative ? "-" : "") + intDigits
        if let frac {
            guard !frac.isEmpty else { throw bad("a decimal point must be followed by digits") }
            text += "." + (try checkedDigits(frac, token: token, pos: pos, isValid: isDigit))
        }
        if var exp {
            var sign = ""
            if let f = exp.first, f == UInt8(ascii: "+") || f == UInt8(ascii: "-") {
                sign = f == UInt8(ascii: "-") ? "-" : "+"
                exp = exp.dropFirst()
            }
            text += "e" + sign + (try checkedDigits(exp, token: token, pos: pos, isValid: isDigit))
        }
        guard let d = Double(text) else { throw bad("not a valid float") }
        return .float(d)
    }

    /// Digits with single underscores only between digits; returns the digits without underscores.
    func checkedDigits(
        _ s: ArraySlice<UInt8>, token: String, pos: TOMLPosition, isValid: (UInt8) -> Bool
    ) throws(ConfigError) -> String {
        guard !s.isEmpty else { throw error("invalid number '\(token)': missing digits", at: pos) }
        var out: [UInt8] = []
        var previousWasDigit = false
        for c in s {
            if c == UInt8(ascii: "_") {
                guard previousWasDigit else {
                    throw error("invalid number '\(token)': '_' must be between two digits", at: pos)
                }
                previousWasDigit = false
            } else if isValid(c) {
                out.append(c)
                previousWasDigit = true
            } else {
                throw error("invalid number '\(token)': unexpected '\(String(UnicodeScalar(c)))'", at: pos)
            }
        }
        guard previousWasDigit else { throw error("invalid number '\(token)': '_' must be between two digits", at: pos) }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    fileprivate init(format4 value: UInt32) {
        let hex = String(value, radix: 16, uppercase: true)
        self = String(repeating: "0", count: Swift.max(0, 4 - hex.count)) + hex
    }

    fileprivate var trimmingQuotes: String {
        if count >= 2 && hasPrefix("'") && hasSuffix("'") { return String(dropFirst().dropLast()) }
        return self
    }
}
