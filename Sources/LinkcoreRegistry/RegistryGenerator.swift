import Foundation

/// xoshiro256** seeded through SplitMix64: fast, deterministic for a seed on every platform.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// Uniform in 0..<n (n > 0).
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    /// True with probability p.
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) * 0x1p-53 < p }
}

/// A table of weights sampled by binary search over the cumulative sum.
struct WeightedTable: Sendable {
    let cumulative: [Double]

    init(_ weights: [Double]) {
        var sum = 0.0
        cumulative = weights.map { sum += $0; return sum }
    }

    func pick(_ rng: inout SeededRandom) -> Int {
        let total = cumulative.last ?? 0
        let x = Double(rng.next() >> 11) * 0x1p-53 * total
        var lo = 0
        var hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] > x { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// Rank weights 1/rank^s: a rough Zipf for lists in frequency order.
    static func zipf(count: Int, exponent s: Double = 0.9) -> WeightedTable {
        WeightedTable((1...max(count, 1)).map { 1 / pow(Double($0), s) })
    }
}

/// How a generated resident relates to the others: what makes matching non-trivial.
public enum GeneratedKind: Sendable, Equatable {
    /// An ordinary resident.
    case plain
    /// Same normalised name, birth date and sex as an earlier resident, at another address:
    /// the address tells them apart.
    case homonym(of: String)
    /// Same normalised name, birth date, sex and address as an earlier resident (two people of
    /// one name and birthday in one care home): no match on facts can tell them apart.
    case sameAddressHomonym(of: String)
}

public struct GeneratedResident: Sendable, Equatable {
    /// As stored: the recorded spelling may use old kanji forms, full-width digits, 丁目 or
    /// hyphens, hiragana or half-width kana, any spacing.
    public var resident: Resident
    /// The same facts in plain spelling (new forms, ASCII hyphens, katakana, one space): what an
    /// organisation would typically send.
    public var plainFacts: Facts
    /// True if the stored spelling differs from the plain one beyond spacing.
    public var variantSpelling: Bool
    public var kind: GeneratedKind
}

/// Deterministic synthetic residents for a seed: realistic names with readings, addresses,
/// an age pyramid, valid My Numbers, unique resident codes, deliberate homonyms and variant
/// spellings. The n-th resident of a seed is always the same.
public struct RegistryGenerator: Sendable {
    public let seed: UInt64
    public private(set) var generated = 0
    /// Probabilities per resident.
    public var homonymRate = 0.01
    public var sameAddressHomonymRate = 0.002
    public var variantSpellingRate = 0.12
    /// Ages are measured from this date (the census reference day).
    public static let referenceDate = CalendarDate(uncheckedYear: 2025, month: 10, day: 1)

    private var rng: SeededRandom
    private let codeMultiplier: UInt64
    private let codeOffset: UInt64
    private let numberMultiplier: UInt64
    private let numberOffset: UInt64
    private var recent: [(base: Base, code: String)] = []

    private struct Person: Sendable {
        var family: Int
        var given: Int
        var givenList: Int
        var sex: Sex
        var birth: CalendarDate
    }

    private struct Address: Sendable {
        var prefecture: Int
        var city: Int
        var town: Int
        var chome: Int  // 0: no 丁目 (番地 style)
        var ban: Int
        var go: Int
        var building: String?
        var room: Int?
    }

    private struct Base: Sendable {
        var person: Person
        var address: Address
    }

    static let families: [(kanji: String, kana: String)] = parse(GeneratorData.familyNames)
    static let givenNames: [[(kanji: String, kana: String)]] =
        GeneratorData.maleNames.map(parse) + GeneratorData.femaleNames.map(parse)
    static let towns: [String] = GeneratorData.towns.split(separator: " ").map(String.init)
    static let familyTable = WeightedTable.zipf(count: families.count)
    static let givenTables = givenNames.map { WeightedTable.zipf(count: $0.count, exponent: 0.7) }
    static let prefectureTable = WeightedTable(GeneratorData.prefectures.map { Double($0.weight) })
    static let townTable = WeightedTable.zipf(count: towns.count, exponent: 0.5)
    /// Population by age 0...100 (Japan, 2020 census shape, 5-year bands spread evenly).
    static let ageTable: WeightedTable = {
        let bands: [Double] = [4.5, 5.0, 5.3, 5.6, 6.3, 6.4, 6.7, 7.6, 8.5, 9.8, 8.8, 7.9, 7.4, 8.2, 9.4, 7.1, 5.4, 3.7,
                               1.9, 0.5, 0.08]
        return WeightedTable((0...100).map { bands[min($0 / 5, bands.count - 1)] / 5 })
    }()
    /// New form → old form, for rendering variant spellings (the inverse of a subset of the
    /// normaliser's folds).
    static let oldForms: [Character: Character] = [
        "高": "髙", "崎": "﨑", "斎": "齋", "斉": "齊", "辺": "邊", "沢": "澤", "浜": "濱", "島": "嶋", "広": "廣",
        "国": "國", "桜": "櫻", "滝": "瀧", "徳": "德", "真": "眞", "恵": "惠", "実": "實", "栄": "榮", "寿": "壽",
        "関": "關", "富": "冨", "峰": "峯",
    ]

    static func parse(_ list: String) -> [(kanji: String, kana: String)] {
        list.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { entry in
            let parts = entry.split(separator: ":")
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }
    }

    public init(seed: UInt64) {
        self.seed = seed
        rng = SeededRandom(seed: seed)
        var keys = SeededRandom(seed: seed ^ 0x5EED_C0DE_D00D_F00D)
        // Affine permutations of 0..<10^11 (multiplier coprime to 10): unique codes per index.
        func multiplier() -> UInt64 {
            while true {
                let m = keys.next() % 100_000_000_000
                if m % 2 != 0, m % 5 != 0, m > 1_000_000_000 { return m }
            }
        }
        codeMultiplier = multiplier()
        codeOffset = keys.next() % 100_000_000_000
        numberMultiplier = multiplier()
        numberOffset = keys.next() % 100_000_000_000
    }

    static func affine(_ i: UInt64, _ a: UInt64, _ b: UInt64) -> UInt64 {
        let modulus: UInt64 = 100_000_000_000
        let product = a.multipliedFullWidth(by: i % modulus)
        let r = modulus.dividingFullWidth(product).remainder
        return (r + b % modulus) % modulus
    }

    /// The resident code and My Number of the i-th resident of this seed.
    public func identifiers(index i: Int) -> (residentCode: String, myNumber: String) {
        let code = zeroPadded(Self.affine(UInt64(i), codeMultiplier, codeOffset), width: 11)
        let number = MyNumber.make(body: Self.affine(UInt64(i), numberMultiplier, numberOffset))
        return (code, number)
    }

    public mutating func batch(_ count: Int) -> [GeneratedResident] {
        (0..<count).map { _ in next() }
    }

    public mutating func next() -> GeneratedResident {
        let index = generated
        generated += 1
        let (code, number) = identifiers(index: index)
        var kind = GeneratedKind.plain
        var base: Base
        if !recent.isEmpty, rng.chance(sameAddressHomonymRate) {
            let other = recent[rng.below(recent.count)]
            base = other.base
            kind = .sameAddressHomonym(of: other.code)
        } else if !recent.isEmpty, rng.chance(homonymRate) {
            let other = recent[rng.below(recent.count)]
            base = Base(person: other.base.person, address: randomAddress())
            kind = .homonym(of: other.code)
        } else {
            let person = randomPerson()
            base = Base(person: person, address: person.birth.year < 1945 && rng.chance(0.15)
                ? facilityAddress() : randomAddress())
        }
        if kind == .plain {
            if recent.count < 4096 { recent.append((base, code)) } else { recent[rng.below(4096)] = (base, code) }
        }
        let age = Self.referenceDate.year - base.person.birth.year
        let deceased = rng.chance(age >= 80 ? 0.06 : 0.004)
        let variant = rng.chance(variantSpellingRate)
        let rendered = render(base, variant: variant)
        let resident = Resident(residentCode: code, myNumber: number, name: rendered.name, nameKana: rendered.kana,
                                address: rendered.address, birthDate: base.person.birth.description,
                                sex: base.person.sex, status: deceased ? .deceased : .alive)
        return GeneratedResident(resident: resident, plainFacts: plainFacts(base), variantSpelling: rendered.varied,
                                 kind: kind)
    }

    // MARK: drawing

    private mutating func randomPerson() -> Person {
        let age = Self.ageTable.pick(&rng)
        let femaleShare = age >= 80 ? 0.64 : age >= 60 ? 0.53 : 0.49
        let sex: Sex = rng.chance(femaleShare) ? .female : .male
        let refDay = Self.referenceDate.dayNumber
        let earliest = CalendarDate(uncheckedYear: 1925, month: 1, day: 1).dayNumber
        var day = refDay - Int(Double(age) * 365.2425) - rng.below(365) - 1
        day = max(day, earliest)
        let birth = CalendarDate(dayNumber: day)
        let generation = birth.year < 1960 ? 0 : birth.year < 1990 ? 1 : 2
        // Mostly a name of the person's generation, sometimes any.
        let list = (sex == .male ? 0 : 3) + (rng.chance(0.85) ? generation : rng.below(3))
        return Person(family: Self.familyTable.pick(&rng), given: Self.givenTables[list].pick(&rng), givenList: list,
                      sex: sex, birth: birth)
    }

    private mutating func randomAddress() -> Address {
        let prefecture = Self.prefectureTable.pick(&rng)
        let cities = GeneratorData.prefectures[prefecture].cities
        let urban = GeneratorData.prefectures[prefecture].weight > 500 || rng.chance(0.4)
        let chome = rng.chance(urban ? 0.9 : 0.5) ? 1 + rng.below(rng.chance(0.7) ? 5 : 12) : 0
        var building: String?
        var room: Int?
        if rng.chance(urban ? 0.4 : 0.12) {
            let prefix = GeneratorData.buildingPrefixes[rng.below(GeneratorData.buildingPrefixes.count)]
            let suffix = GeneratorData.buildingSuffixes[rng.below(GeneratorData.buildingSuffixes.count)]
            let town = Self.towns[rng.below(Self.towns.count)]
            building = rng.chance(0.5) ? prefix + suffix : prefix + town + suffix
            room = (1 + rng.below(rng.chance(0.8) ? 5 : 15)) * 100 + 1 + rng.below(9)
        }
        return Address(prefecture: prefecture, city: rng.below(cities.count), town: Self.towns.isEmpty ? 0 : Self.townTable.pick(&rng),
                       chome: chome, ban: 1 + rng.below(chome == 0 ? 2000 : 30), go: 1 + rng.below(chome == 0 ? 20 : 25),
                       building: building, room: room)
    }

    private mutating func facilityAddress() -> Address {
        // Few facilities per prefecture, so that residents of one name and birthday can share one.
        var address = randomAddress()
        address.town = rng.below(3)
        address.chome = 1
        address.ban = 1 + rng.below(3)
        address.go = 1
        address.building = GeneratorData.facilities[rng.below(GeneratorData.facilities.count)] + "さくら苑"
        address.room = nil
        return address
    }

    // MARK: rendering

    private func plainFacts(_ base: Base) -> Facts {
        let family = Self.families[base.person.family]
        let given = Self.givenNames[base.person.givenList][base.person.given]
        return Facts(name: family.kanji + " " + given.kanji, nameKana: family.kana + " " + given.kana,
                     address: plainAddress(base.address), birthDate: base.person.birth.description, sex: base.person.sex)
    }

    private func plainAddress(_ a: Address) -> String {
        let p = GeneratorData.prefectures[a.prefecture]
        var s = p.name + p.cities[a.city] + Self.towns[a.town]
        s += a.chome > 0 ? "\(a.chome)-\(a.ban)-\(a.go)" : "\(a.ban)-\(a.go)"
        if let building = a.building { s += " " + building + (a.room.map { " \($0)" } ?? "") }
        return s
    }

    private mutating func render(_ base: Base, variant: Bool) -> (name: String, kana: String, address: String, varied: Bool) {
        let family = Self.families[base.person.family]
        let given = Self.givenNames[base.person.givenList][base.person.given]
        var varied = false
        var familyKanji = family.kanji
        var givenKanji = given.kanji
        var familyKana = family.kana
        var givenKana = given.kana
        if variant {
            // Old forms where the name has a foldable character, else other variations.
            let old = String(familyKanji.map { Self.oldForms[$0] ?? $0 })
            if old != familyKanji, rng.chance(0.7) { familyKanji = old; varied = true }
            let oldGiven = String(givenKanji.map { Self.oldForms[$0] ?? $0 })
            if oldGiven != givenKanji, rng.chance(0.5) { givenKanji = oldGiven; varied = true }
            switch rng.below(3) {
            case 0: familyKana = Self.hiragana(familyKana); givenKana = Self.hiragana(givenKana); varied = true
            case 1: familyKana = Self.halfWidthKana(familyKana); givenKana = Self.halfWidthKana(givenKana); varied = true
            default: break
            }
        }
        let separators = ["\u{3000}", "\u{3000}", " ", ""]
        let separator = separators[rng.below(separators.count)]
        let kanaSeparator = rng.chance(0.8) ? " " : "\u{3000}"
        let address = renderAddress(base.address, variant: variant)
        return (familyKanji + separator + givenKanji, familyKana + kanaSeparator + givenKana, address.text,
                varied || address.varied)
    }

    private mutating func renderAddress(_ a: Address, variant: Bool) -> (text: String, varied: Bool) {
        let p = GeneratorData.prefectures[a.prefecture]
        var varied = false
        var place = p.name + p.cities[a.city] + Self.towns[a.town]
        // Styles: 丁目番号 (most registry records), hyphens, kanji 丁目 (variant only).
        let style = variant ? rng.below(3) : (rng.chance(0.7) ? 0 : 1)
        var number: String
        switch (a.chome > 0, style) {
        case (true, 0): number = "\(a.chome)丁目\(a.ban)番\(a.go)号"
        case (true, 2): number = "\(Self.kanjiNumeral(a.chome))丁目\(a.ban)番\(a.go)号"; varied = true
        case (false, 0), (false, 2): number = "\(a.ban)番地\(a.go)"
        default: number = a.chome > 0 ? "\(a.chome)-\(a.ban)-\(a.go)" : "\(a.ban)-\(a.go)"
        }
        var tail = ""
        if let building = a.building {
            if let room = a.room {
                tail = rng.chance(0.5) ? "\u{3000}\(building)\(room)号室" : " \(building) \(room)"
            } else {
                tail = " " + building
            }
        }
        if variant, rng.chance(0.6) {
            number = Self.fullWidthDigits(number)
            tail = Self.fullWidthDigits(tail)
            varied = true
        }
        if variant, rng.chance(0.3) {
            let old = String(place.map { Self.oldForms[$0] ?? $0 })
            if old != place { place = old; varied = true }
        }
        return (place + number + tail, varied)
    }

    static func kanjiNumeral(_ n: Int) -> String {
        let digits = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九"]
        if n < 10 { return digits[n] }
        return (n / 10 == 1 ? "" : digits[n / 10]) + "十" + digits[n % 10]
    }

    static func fullWidthDigits(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { c in
            switch c.value {
            case 0x30...0x39: Unicode.Scalar(c.value - 0x30 + 0xFF10) ?? c
            case 0x2D: "－"
            default: c
            }
        }))
    }

    static func hiragana(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { c in
            (0x30A1...0x30F6).contains(c.value) ? (Unicode.Scalar(c.value - 0x60) ?? c) : c
        }))
    }

    /// Full-width katakana → half-width (JIS X 0201), voiced marks split.
    static func halfWidthKana(_ s: String) -> String {
        s.map { halfWidthTable[$0] ?? String($0) }.joined()
    }

    static let halfWidthTable: [Character: String] = {
            let full = Array("ァアィイゥウェエォオカキクケコサシスセソタチッツテトナニヌネノハヒフヘホマミムメモャヤュユョヨラリルレロワヲンー")
            let half = Array("ｧｱｨｲｩｳｪｴｫｵｶｷｸｹｺｻｼｽｾｿﾀﾁｯﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓｬﾔｭﾕｮﾖﾗﾘﾙﾚﾛﾜｦﾝｰ")
            var t: [Character: String] = [:]
            for (f, h) in zip(full, half) { t[f] = String(h) }
            let voiced = Array("ガギグゲゴザジズゼゾダヂヅデドバビブベボ")
            let voicedBase = Array("ｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾊﾋﾌﾍﾎ")
            for (v, b) in zip(voiced, voicedBase) { t[v] = String(b) + "ﾞ" }
            for (v, b) in zip(Array("パピプペポ"), Array("ﾊﾋﾌﾍﾎ")) { t[v] = String(b) + "ﾟ" }
            t["ヴ"] = "ｳﾞ"
            return t
        }()
}
