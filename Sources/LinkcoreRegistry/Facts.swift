/// Sex as the resident registry codes it (JIS X 0303: 1 male, 2 female).
public enum Sex: Int, Sendable, Equatable, Hashable, CaseIterable, CustomStringConvertible {
    case male = 1
    case female = 2

    /// Accepts 1/2, m/f, male/female, 男/女, 男性/女性 (any width, any case).
    public init?(parsing text: String) {
        let t = FactsNormaliser.nfkc(text).trimmingSpaces.lowercased()
        switch t {
        case "1", "m", "male", "男", "男性": self = .male
        case "2", "f", "female", "女", "女性": self = .female
        default: return nil
        }
    }

    public var description: String { self == .male ? "male" : "female" }
}

/// The four basic facts (基本4情報) as an organisation sends them, plus an optional reading.
/// Free text, as typed: `FactsNormaliser` turns them into the registry's comparison form.
public struct Facts: Sendable, Equatable, Hashable {
    public var name: String
    public var nameKana: String?
    public var address: String
    /// ISO `YYYY-MM-DD`; also `YYYY/MM/DD`, `YYYYMMDD`, `YYYY年M月D日` and Japanese eras
    /// (`昭和50年1月2日`, `S50.1.2`, `平成元年…`), in any width.
    public var birthDate: String
    public var sex: Sex

    public init(name: String, nameKana: String? = nil, address: String, birthDate: String, sex: Sex) {
        self.name = name
        self.nameKana = nameKana
        self.address = address
        self.birthDate = birthDate
        self.sex = sex
    }
}

/// Facts in comparison form: what the registry indexes and the matcher compares, byte for byte.
public struct NormalisedFacts: Sendable, Equatable, Hashable {
    public var name: String
    public var nameKana: String?
    public var address: String
    /// ISO `YYYY-MM-DD`.
    public var birthDate: String
    public var sex: Sex
}

/// A calendar date, validated (Gregorian, proleptic).
public struct CalendarDate: Sendable, Equatable, Hashable, Comparable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    public init?(year: Int, month: Int, day: Int) {
        guard (1800...2999).contains(year), (1...12).contains(month),
              (1...CalendarDate.days(inMonth: month, year: year)).contains(day) else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// For constants known to be valid.
    init(uncheckedYear year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func days(inMonth m: Int, year y: Int) -> Int {
        switch m {
        case 2: return isLeap(y) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// `YYYY-MM-DD`.
    public var description: String {
        zeroPadded(UInt64(year), width: 4) + "-" + zeroPadded(UInt64(month), width: 2) + "-" + zeroPadded(UInt64(day), width: 2)
    }

    public static func < (a: CalendarDate, b: CalendarDate) -> Bool {
        (a.year, a.month, a.day) < (b.year, b.month, b.day)
    }

    /// Days since 1970-01-01 (negative before).
    var dayNumber: Int {
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    init(dayNumber z0: Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (m <= 2 ? 1 : 0)
        month = m
        day = d
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}
