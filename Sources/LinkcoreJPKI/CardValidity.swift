import Foundation

/// A calendar day in Japan time: the registry's birth dates and the card's end are days, not
/// instants, and a card issued in Tokyo at 08:00 is issued that Tokyo day.
public struct CardDay: Sendable, Equatable, Hashable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month), (1...Self.days(inMonth: month, year: year)).contains(day) else {
            return nil
        }
        self.year = year
        self.month = month
        self.day = day
    }

    init(unchecked year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// `YYYY-MM-DD` (the registry's normalised birth date); nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]) else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// The day `instant` falls on in Japan (UTC+9, no daylight saving time).
    public init(japanDayOf instant: Date) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = Self.japan
        let parts = calendar.dateComponents([.year, .month, .day], from: instant)
        // The calendar always yields a valid day for a valid instant.
        year = parts.year ?? 1970
        month = parts.month ?? 1
        day = parts.day ?? 1
    }

    public var description: String { String(format: "%04d-%02d-%02d", year, month, day) }

    /// The first instant after this day ends in Japan (the next day's 00:00 JST): a card valid
    /// "until" this day is valid through it.
    public var endInstant: Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = Self.japan
        let start = calendar.date(from: DateComponents(year: year, month: month, day: day)) ?? Date(timeIntervalSince1970: 0)
        return start.addingTimeInterval(86_400)
    }

    public static func < (a: CardDay, b: CardDay) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }

    static let japan = TimeZone(secondsFromGMT: 9 * 3600) ?? .gmt

    static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func days(inMonth m: Int, year y: Int) -> Int {
        switch m {
        case 2: isLeap(y) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

/// How long a card and its certificates run (issue 14): certificates 5 years; the card itself
/// until the holder's 10th birthday after the day of issuance (adults), and no certificate
/// outlives the card.
public enum CardValidity {
    /// 5 years for both certificates, as JPKI (5 × 365 + 1 leap day).
    public static let certificateDays = 1826

    /// The holder's `n`th birthday after the day `issuedOn` (a birthday on the day of issuance
    /// itself does not count: "after issuance"). For a 29 February birth the birthday of a common
    /// year is 1 March: Japanese law (年齢計算ニ関スル法律 with Civil Code art. 143) has such a
    /// holder reach the new age at the end of 28 February, so 1 March is the first day of it.
    public static func cardEnd(birthDate: CardDay, issuedOn: CardDay, birthdays n: Int = 10) -> CardDay {
        func birthday(in year: Int) -> CardDay {
            // Only 29 February fails to exist in a year; its stand-in, 1 March, always exists.
            CardDay(year: year, month: birthDate.month, day: birthDate.day) ?? CardDay(unchecked: year, month: 3, day: 1)
        }
        let first = birthday(in: issuedOn.year) > issuedOn ? issuedOn.year : issuedOn.year + 1
        return birthday(in: first + n - 1)
    }

    /// The end of a certificate issued at `notBefore` for a card that ends with `cardEnd`: 5 years
    /// later, or the card's end if that is earlier (a renewal late in the card's life). A card
    /// whose end has come gets no certificate: `CardLifecycleError.cardExpired`.
    public static func certificateEnd(notBefore: Date, card: String, cardEnd: CardDay?) throws(CardLifecycleError) -> Date {
        let fiveYears = notBefore.addingTimeInterval(TimeInterval(certificateDays) * 86_400)
        guard let cardEnd else { return fiveYears }
        let end = cardEnd.endInstant
        guard end > notBefore else { throw .cardExpired(card, endedOn: cardEnd.description) }
        return min(fiveYears, end)
    }
}
