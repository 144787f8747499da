import LinkcoreConfig

/// Reads one policy table file (TOML) with the daemon's strict parser: unknown keys, wrong types
/// and bad values are refused with file, line and key, so a typo never silently widens a policy.
struct TableFile {
    let file: String
    let root: TOMLTable

    init(text: String, file: String) throws(ConfigError) {
        self.file = file
        self.root = try TOMLParser().parse(text, file: file)
    }

    func error(_ line: Int?, _ key: String, _ message: String) -> ConfigError {
        ConfigError(kind: .invalidValue, file: file, line: line, keyPath: key, message: message)
    }

    func checkKeys(_ table: TOMLTable, allowed: [String], where place: String) throws(ConfigError) {
        for entry in table.entries where !allowed.contains(entry.key) {
            throw ConfigError(
                kind: .unknownKey, file: file, line: entry.item.position.line, keyPath: "\(place) \(entry.key)",
                message: "unknown key; valid keys are: \(allowed.joined(separator: ", "))")
        }
    }

    /// `[[name]]` rows (absent: none).
    func rows(_ name: String) throws(ConfigError) -> [(table: TOMLTable, line: Int)] {
        guard let item = root.item(name) else { return [] }
        guard case .array(let elements) = item.value else {
            throw error(item.position.line, name, "expected [[\(name)]] tables")
        }
        var rows: [(TOMLTable, Int)] = []
        for element in elements {
            guard case .table(let t) = element.value else {
                throw error(element.position.line, name, "expected [[\(name)]] tables")
            }
            rows.append((t, element.position.line))
        }
        return rows
    }

    func string(_ t: TOMLTable, _ key: String, row: String, default value: String? = nil) throws(ConfigError) -> String {
        guard let item = t.item(key) else {
            if let value { return value }
            throw ConfigError(kind: .missingRequired, file: file, line: t.position.line, keyPath: "\(row) \(key)", message: "missing required key")
        }
        guard case .string(let s) = item.value, !s.isEmpty else {
            throw ConfigError(
                kind: .wrongType, file: file, line: item.position.line, keyPath: "\(row) \(key)",
                message: "expected a non-empty string, got \(item.value.literal)")
        }
        return s
    }

    func strings(_ t: TOMLTable, _ key: String, row: String) throws(ConfigError) -> [String] {
        guard let item = t.item(key) else {
            throw ConfigError(kind: .missingRequired, file: file, line: t.position.line, keyPath: "\(row) \(key)", message: "missing required key")
        }
        guard case .array(let elements) = item.value, !elements.isEmpty else {
            throw ConfigError(
                kind: .wrongType, file: file, line: item.position.line, keyPath: "\(row) \(key)",
                message: "expected a non-empty array of strings, got \(item.value.literal)")
        }
        var result: [String] = []
        for element in elements {
            guard case .string(let s) = element.value, !s.isEmpty else {
                throw ConfigError(
                    kind: .wrongType, file: file, line: element.position.line, keyPath: "\(row) \(key)",
                    message: "expected non-empty strings, got \(element.value.literal)")
            }
            result.append(s)
        }
        return result
    }

    func integer(_ t: TOMLTable, _ key: String, row: String, range: ClosedRange<Int64>) throws(ConfigError) -> Int64 {
        guard let item = t.item(key) else {
            throw ConfigError(kind: .missingRequired, file: file, line: t.position.line, keyPath: "\(row) \(key)", message: "missing required key")
        }
        guard case .integer(let i) = item.value, range.contains(i) else {
            throw ConfigError(
                kind: .outOfRange, file: file, line: item.position.line, keyPath: "\(row) \(key)",
                message: "expected an integer between \(range.lowerBound) and \(range.upperBound), got \(item.value.literal)")
        }
        return i
    }

    func boolean(_ t: TOMLTable, _ key: String, row: String) throws(ConfigError) -> Bool? {
        guard let item = t.item(key) else { return nil }
        guard case .boolean(let b) = item.value else {
            throw ConfigError(
                kind: .wrongType, file: file, line: item.position.line, keyPath: "\(row) \(key)",
                message: "expected true or false, got \(item.value.literal)")
        }
        return b
    }

    /// A `YYYY-MM-DD` date as the first millisecond of that day in Japan (UTC+9, no DST); nil when absent.
    func day(_ t: TOMLTable, _ key: String, row: String) throws(ConfigError) -> Day? {
        guard let item = t.item(key) else { return nil }
        guard case .string(let s) = item.value else {
            throw ConfigError(
                kind: .invalidValue, file: file, line: item.position.line, keyPath: "\(row) \(key)",
                message: "expected a date \"YYYY-MM-DD\", got \(item.value.literal)")
        }
        switch Day.parse(s) {
        case .success(let day): return day
        case .failure(let why):
            throw ConfigError(kind: .invalidValue, file: file, line: item.position.line, keyPath: "\(row) \(key)", message: why.message)
        }
    }

    /// The `[classes]` table: class name → organisation codes or `PREFIX*` patterns.
    func classes() throws(ConfigError) -> OrgClasses {
        guard let item = root.item("classes") else { return OrgClasses(named: [:]) }
        guard case .table(let t) = item.value else { throw error(item.position.line, "classes", "expected a [classes] table") }
        var named: [String: [String]] = [:]
        for entry in t.entries {
            if OrgClasses.builtIn[entry.key] != nil {
                throw error(entry.item.position.line, "[classes] \(entry.key)", "\"\(entry.key)\" is a built-in class")
            }
            named[entry.key] = try strings(t, entry.key, row: "[classes]")
        }
        return OrgClasses(named: named)
    }
}

/// A calendar day in Japan Standard Time, as the statutory tables date their rows: the one date
/// type of every whitelist table (TOML or CSV). Only days of the calendar exist: 2021-02-31 is
/// refused, never rolled over into March.
public struct Day: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Why a text is not a `Day`, phrased for the operator.
    public struct Invalid: Error, Sendable, Equatable {
        public let message: String
    }

    /// The day, or why the text is none: not `YYYY-MM-DD`, or a day its month does not have.
    public static func parse(_ text: String) -> Result<Day, Invalid> {
        if let day = Day(text) { return .success(day) }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        if parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), (1...12).contains(m), d >= 1
        {
            return .failure(Invalid(message: "\(text) is not a day of the calendar: \(parts[0])-\(parts[1]) has \(daysIn(month: m, year: y)) days (got day \(d))"))
        }
        return .failure(Invalid(message: "expected a date \"YYYY-MM-DD\", got \"\(text)\""))
    }

    public let year: Int
    public let month: Int
    public let day: Int
    /// Milliseconds since the epoch at 00:00 JST of this day.
    public let startMs: Int64

    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
            (1...12).contains(m), (1...Day.daysIn(month: m, year: y)).contains(d)
        else { return nil }
        year = y
        month = m
        day = d
        startMs = (Day.daysSinceEpoch(year: y, month: m, day: d) * 86_400 - 9 * 3600) * 1000
    }

    /// The first millisecond after this day ends (JST).
    public var endMs: Int64 { startMs + 86_400_000 }

    public var description: String {
        let mm = month < 10 ? "0\(month)" : "\(month)"
        let dd = day < 10 ? "0\(day)" : "\(day)"
        return "\(year)-\(mm)-\(dd)"
    }

    public static func < (a: Day, b: Day) -> Bool { a.startMs < b.startMs }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Howard Hinnant's days-from-civil.
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
