import Foundation

/// A fact that cannot be put in comparison form.
public struct InvalidFact: Error, Sendable, Equatable, CustomStringConvertible {
    /// `name`, `name_kana`, `address`, `birth_date`, `sex`, `my_number`, `resident_code`.
    public var field: String
    public var reason: String
    public var description: String { "\(field): \(reason)" }

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }
}

/// Turns facts as typed into the form the registry compares. Each rule is deliberately
/// conservative: a fold that merges two different people widens a match, which is worse than a
/// fold that is missing (that only makes a match fail, and the organisation retries).
///
/// Rules (all fields): Unicode NFKC (full-width digits and latin → ASCII, half-width katakana →
/// full-width, voiced marks composed, U+3000 → space, CJK compatibility ideographs with a
/// canonical mapping → unified), then variation selectors (SVS/IVS) and zero-width characters
/// dropped, then the 旧字体/異体字 folds in `variantFolds`.
///
/// - name: all whitespace and the separators `・` `=` removed (family/given spacing varies);
///   latin uppercased.
/// - kana: hiragana → katakana, whitespace and `・` removed, dash-likes → `ー`.
/// - address: whitespace removed; latin uppercased; `ヶ` → `ケ`; dash-likes → `-`; `ー` between
///   digits → `-`; a kanji numeral before 丁目 → digits (`二丁目` → `2丁目`); after a digit,
///   丁目 / 番地の / 番地 / 番 / の (before a digit) → `-`, 号室 / 号 → nothing; finally `-` is
///   kept only between two digits. So `1丁目2番3号`, `1-2-3`, `１－２－３`, `1丁目2番地3` are one.
/// - birth date: ISO, slashes, dots, `YYYYMMDD`, `YYYY年M月D日`, eras 大正/昭和/平成/令和 (and
///   T/S/H/R, 元年) → `YYYY-MM-DD`.
///
/// Not folded on purpose: 斎 and 斉 (斎藤 and 斉藤 are two distinct common surnames: only each
/// one's own old form folds, 齋 → 斎 and 齊 → 斉), 竜/龍, 桧/檜 and other pairs used as distinct
/// name characters; kana size (ヨウコ ≠ ヨーコ); omitted prefecture or city in an address; 大字/字.
public struct FactsNormaliser: Sendable {
    public init() {}

    /// 旧字体 / 異体字 → 新字体, for names and addresses. Each pair is the same character in the
    /// family register sense (a resident may be written either way by different offices).
    public static let variantFolds: [Unicode.Scalar: Unicode.Scalar] = {
        let pairs: [(String, String)] = [
            ("髙", "高"), ("﨑", "崎"), ("嵜", "崎"), ("齋", "斎"), ("齊", "斉"), ("邊", "辺"), ("邉", "辺"),
            ("澤", "沢"), ("濱", "浜"), ("嶋", "島"), ("嶌", "島"), ("廣", "広"), ("國", "国"), ("櫻", "桜"),
            ("瀧", "滝"), ("德", "徳"), ("眞", "真"), ("惠", "恵"), ("實", "実"), ("榮", "栄"), ("藏", "蔵"),
            ("壽", "寿"), ("學", "学"), ("豐", "豊"), ("淺", "浅"), ("關", "関"), ("靜", "静"), ("縣", "県"),
            ("驛", "駅"), ("兒", "児"), ("冨", "富"), ("舘", "館"), ("槇", "槙"), ("彌", "弥"), ("鐵", "鉄"),
            ("萬", "万"), ("與", "与"), ("圓", "円"), ("會", "会"), ("澁", "渋"), ("邨", "村"), ("峯", "峰"),
            ("黑", "黒"), ("步", "歩"), ("淸", "清"),
        ]
        var table: [Unicode.Scalar: Unicode.Scalar] = [:]
        for (old, new) in pairs {
            // NFKC first: some old forms are compatibility ideographs that NFKC already maps.
            for source in Set([old, nfkc(old)]) {
                guard let from = source.unicodeScalars.first, let to = new.unicodeScalars.first, from != to else { continue }
                table[from] = to
            }
        }
        return table
    }()

    // MARK: fields

    public func name(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for s in Self.prepared(text) {
            if Self.isSpace(s) || s == "・" || s == "=" || s == "＝" { continue }
            out.append(Self.upperASCII(s))
        }
        return String(out)
    }

    /// The kana reading in katakana, or nil if it contains anything other than kana.
    public func kana(_ text: String) -> String? {
        var out = String.UnicodeScalarView()
        for s in Self.prepared(text) {
            if Self.isSpace(s) || s == "・" { continue }
            var v = s.value
            if (0x3041...0x3096).contains(v) || v == 0x309D || v == 0x309E { v += 0x60 }  // hiragana → katakana
            if Self.isDashLike(s) || s == "~" || s == "〜" { v = 0x30FC }
            guard let k = Unicode.Scalar(v), (0x30A1...0x30FA).contains(k.value) || (0x30FC...0x30FE).contains(k.value) else {
                return nil
            }
            out.append(k)
        }
        return String(out)
    }

    public func address(_ text: String) -> String {
        var s: [Unicode.Scalar] = []
        for c in Self.prepared(text) where !Self.isSpace(c) {
            s.append(c == "ヶ" ? "ケ" : Self.upperASCII(c))
        }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        func at(_ i: Int, _ literal: String) -> Bool {
            var j = i
            for u in literal.unicodeScalars {
                guard j < s.count, s[j] == u else { return false }
                j += 1
            }
            return true
        }
        var i = 0
        while i < s.count {
            let c = s[i]
            if Self.kanjiDigit(c) != nil {
                var j = i
                while j < s.count, Self.kanjiDigit(s[j]) != nil { j += 1 }
                if at(j, "丁目"), let value = Self.kanjiNumber(s[i..<j]) {
                    out.append(contentsOf: String(value).unicodeScalars)
                    i = j
                    continue
                }
            }
            let afterDigit = out.last.map(Self.isDigit) ?? false
            let beforeDigit = i + 1 < s.count && Self.isDigit(s[i + 1])
            if afterDigit {
                if at(i, "丁目") { out.append("-"); i += 2; continue }
                if at(i, "番地の") { out.append("-"); i += 3; continue }
                if at(i, "番地") { out.append("-"); i += 2; continue }
                if at(i, "番") { out.append("-"); i += 1; continue }
                if at(i, "号室") { i += 2; continue }
                if at(i, "号") { i += 1; continue }
                if (c == "の" || c == "ー" || c == "ｰ") && beforeDigit { out.append("-"); i += 1; continue }
            }
            out.append(Self.isDashLike(c) ? "-" : c)
            i += 1
        }
        // Keep a hyphen only between two digits.
        var result = String.UnicodeScalarView()
        for (k, c) in out.enumerated() {
            if c == "-" {
                guard k > 0, k + 1 < out.count, Self.isDigit(out[k - 1]), Self.isDigit(out[k + 1]) else { continue }
            }
            result.append(c)
        }
        return String(result)
    }

    public func birthDate(_ text: String) -> CalendarDate? {
        // Fast path: ISO YYYY-MM-DD.
        let u = Array(text.utf8)
        if u.count == 10, u[4] == 0x2D, u[7] == 0x2D {
            var n = [Int]()
            n.reserveCapacity(8)
            for (i, b) in u.enumerated() where i != 4 && i != 7 {
                guard (48...57).contains(b) else { n = []; break }
                n.append(Int(b) - 48)
            }
            if n.count == 8 {
                return CalendarDate(year: n[0] * 1000 + n[1] * 100 + n[2] * 10 + n[3], month: n[4] * 10 + n[5],
                                    day: n[6] * 10 + n[7])
            }
        }
        var t = Self.nfkc(text).trimmingSpaces
        let eras: [(names: [String], base: Int, start: (Int, Int, Int))] = [
            (["令和", "R", "r"], 2018, (2019, 5, 1)),
            (["平成", "H", "h"], 1988, (1989, 1, 8)),
            (["昭和", "S", "s"], 1925, (1926, 12, 25)),
            (["大正", "T", "t"], 1911, (1912, 7, 30)),
            (["明治", "M", "m"], 1867, (1868, 1, 25)),
        ]
        var era: (base: Int, start: (Int, Int, Int))?
        for e in eras {
            if let name = e.names.first(where: { t.hasPrefix($0) }) {
                era = (e.base, e.start)
                t = String(t.dropFirst(name.count))
                break
            }
        }
        if era != nil, t.hasPrefix("元") { t = "1" + t.dropFirst() }
        var parts: [String] = []
        var current = ""
        for ch in t {
            if ch.isASCII, ch.isNumber {
                current.append(ch)
            } else if ["-", "/", ".", "年", "月", "日"].contains(ch) {
                if !current.isEmpty { parts.append(current); current = "" }
            } else {
                return nil
            }
        }
        if !current.isEmpty { parts.append(current) }
        if parts.count == 1, era == nil, parts[0].count == 8 {
            let p = parts[0]
            parts = [String(p.prefix(4)), String(p.dropFirst(4).prefix(2)), String(p.suffix(2))]
        }
        guard parts.count == 3, parts.allSatisfy({ $0.count <= 4 }),
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]) else { return nil }
        if let era {
            guard y >= 1, parts[0].count <= 2,
                  let date = CalendarDate(year: era.base + y, month: m, day: d),
                  let start = CalendarDate(year: era.start.0, month: era.start.1, day: era.start.2),
                  date >= start else { return nil }
            return date
        }
        guard parts[0].count == 4 else { return nil }
        return CalendarDate(year: y, month: m, day: d)
    }

    /// All four facts in comparison form, or the first field that cannot be.
    public func normalise(_ facts: Facts) -> Result<NormalisedFacts, InvalidFact> {
        let name = self.name(facts.name)
        guard !name.isEmpty else { return .failure(InvalidFact(field: "name", reason: "missing")) }
        var kana: String?
        if let raw = facts.nameKana, !raw.trimmingSpaces.isEmpty {
            guard let k = self.kana(raw), !k.isEmpty else {
                return .failure(InvalidFact(field: "name_kana", reason: "not kana"))
            }
            kana = k
        }
        let address = self.address(facts.address)
        guard !address.isEmpty else { return .failure(InvalidFact(field: "address", reason: "missing")) }
        guard !facts.birthDate.trimmingSpaces.isEmpty else {
            return .failure(InvalidFact(field: "birth_date", reason: "missing"))
        }
        guard let date = birthDate(facts.birthDate) else {
            return .failure(InvalidFact(field: "birth_date", reason: "not a valid date"))
        }
        return .success(NormalisedFacts(name: name, nameKana: kana, address: address, birthDate: date.description, sex: facts.sex))
    }

    // MARK: rules

    /// NFKC, with a fast path for text that NFKC leaves unchanged (ASCII letters/digits,
    /// common kana, unified ideographs), which is most of the registry.
    static func nfkc(_ text: String) -> String {
        var mapped = false
        for s in text.unicodeScalars {
            let v = s.value
            let stable = (0x20...0x7E).contains(v) || (0x3041...0x3096).contains(v) || (0x30A1...0x30FC).contains(v)
                || (0x4E00...0x9FFF).contains(v)
            if stable { continue }
            if (0xFF01...0xFF5E).contains(v) || v == 0x3000 { mapped = true; continue }
            // Composed again: Foundation on Linux leaves marks it got by decomposition uncomposed
            // (ｶﾞ → カ + U+3099 instead of ガ).
            return text.precomposedStringWithCompatibilityMapping.precomposedStringWithCanonicalMapping
        }
        guard mapped else { return text }
        // Full-width ASCII → ASCII and U+3000 → space: exactly NFKC for these.
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            switch s.value {
            case 0xFF01...0xFF5E: out.append(Unicode.Scalar(UInt8(s.value - 0xFEE0)))
            case 0x3000: out.append(" ")
            default: out.append(s)
            }
        }
        return String(out)
    }

    /// NFKC, then selectors and zero-width characters dropped, then the variant folds.
    static func prepared(_ text: String) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        for s in nfkc(text).unicodeScalars {
            let v = s.value
            if (0xFE00...0xFE0F).contains(v) || (0xE0100...0xE01EF).contains(v) || (0x200B...0x200D).contains(v)
                || v == 0xFEFF || v == 0x2060 { continue }
            out.append(fold(s))
        }
        return out
    }

    static func isDigit(_ s: Unicode.Scalar) -> Bool { (48...57).contains(s.value) }

    /// Unicode White_Space, without the property lookup.
    static func isSpace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x20, 0x09...0x0D, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// `variantFolds` as a flat table over the unified ideographs block (the common case).
    static let foldTable: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 0xA000 - 0x4E00)
        for (from, to) in variantFolds where (0x4E00..<0xA000).contains(from.value) {
            table[Int(from.value - 0x4E00)] = to.value
        }
        return table
    }()

    @inline(__always)
    static func fold(_ s: Unicode.Scalar) -> Unicode.Scalar {
        let v = s.value
        if v < 0x4E00 { return s }
        if v < 0xA000 {
            let t = foldTable[Int(v - 0x4E00)]
            return t == 0 ? s : (Unicode.Scalar(t) ?? s)
        }
        return variantFolds[s] ?? s
    }

    static func upperASCII(_ s: Unicode.Scalar) -> Unicode.Scalar {
        (97...122).contains(s.value) ? Unicode.Scalar(UInt8(s.value - 32)) : s
    }

    /// Hyphens, dashes and minus signs that people type in addresses (not `ー`, which is kana).
    static func isDashLike(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x2D, 0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE63, 0xFF0D, 0x2500, 0x2501: return true
        default: return false
        }
    }

    static func kanjiDigit(_ s: Unicode.Scalar) -> Int? {
        switch s {
        case "〇", "零": return 0
        case "一": return 1
        case "二": return 2
        case "三": return 3
        case "四": return 4
        case "五": return 5
        case "六": return 6
        case "七": return 7
        case "八": return 8
        case "九": return 9
        case "十": return 10
        case "百": return 100
        default: return nil
        }
    }

    /// 三 → 3, 十二 → 12, 二十三 → 23, 百五 → 105, 一〇 → 10.
    static func kanjiNumber(_ run: ArraySlice<Unicode.Scalar>) -> Int? {
        var total = 0
        var current = 0
        var positional = true
        for s in run {
            guard let d = kanjiDigit(s) else { return nil }
            if d >= 10 {
                positional = false
                total += (current == 0 ? 1 : current) * d
                current = 0
            } else {
                current = positional ? current * 10 + d : d
            }
        }
        return total + current
    }
}
