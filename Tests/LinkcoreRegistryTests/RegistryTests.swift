import Foundation
import LinkcoreRegistry
import Testing

/// A registry file in a fresh temporary directory, removed at the end.
final class TempRegistry {
    let directory: String
    let store: RegistryStore

    init() throws {
        directory = NSTemporaryDirectory() + "registry-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        store = try RegistryStore(path: directory + "/registry.db")
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}

@Suite struct GeneratorTests {
    @Test func sameSeedSameResidentsOtherSeedOthers() {
        var a = RegistryGenerator(seed: 7)
        var b = RegistryGenerator(seed: 7)
        var c = RegistryGenerator(seed: 8)
        let x = a.batch(2000), y = b.batch(2000), z = c.batch(2000)
        #expect(x == y)
        #expect(x.map(\.resident.residentCode) != z.map(\.resident.residentCode))
        #expect(x.map(\.resident.name) != z.map(\.resident.name))
    }

    @Test func identifiersAreUniqueAndMyNumbersValid() {
        var generator = RegistryGenerator(seed: 3)
        let residents = generator.batch(20000).map(\.resident)
        #expect(Set(residents.map(\.residentCode)).count == residents.count)
        #expect(Set(residents.map(\.myNumber)).count == residents.count)
        #expect(residents.allSatisfy { ResidentCode.isValid($0.residentCode) })
        #expect(residents.allSatisfy { MyNumber.isValid($0.myNumber) })
    }

    @Test func realisticShape() {
        var generator = RegistryGenerator(seed: 11)
        let all = generator.batch(20000)
        let residents = all.map(\.resident)
        let years = residents.compactMap { Int($0.birthDate.prefix(4)) }
        #expect(years.allSatisfy { (1925...2025).contains($0) })
        #expect(years.filter { $0 < 1950 }.count > 500)     // elderly exist
        #expect(years.filter { $0 >= 2015 }.count > 500)    // and children
        let females = residents.filter { $0.sex == .female }.count
        #expect((9000...11500).contains(females))
        #expect(residents.filter { $0.status == .deceased }.count > 20)
        #expect(Set(residents.map { $0.name.unicodeScalars.prefix(2).map(String.init).joined() }).count > 200)
        #expect(all.filter(\.variantSpelling).count > 1000)
        #expect(all.contains { if case .homonym = $0.kind { true } else { false } })
        #expect(all.contains { if case .sameAddressHomonym = $0.kind { true } else { false } })
        #expect(residents.contains { $0.name.contains("髙") || $0.name.contains("﨑") || $0.name.contains("邊") })
        #expect(residents.contains { $0.address.contains("１") })
        #expect(residents.contains { $0.address.contains("号室") })
    }
}

@Suite struct MatchingTests {
    let org = "CITY01"
    let t0 = Date(timeIntervalSince1970: 1_750_000_000)

    func generated(_ count: Int, seed: UInt64 = 5) throws -> (TempRegistry, [GeneratedResident]) {
        let registry = try TempRegistry()
        var generator = RegistryGenerator(seed: seed)
        let all = generator.batch(count)
        try registry.store.insert(all.map(\.resident))
        return (registry, all)
    }

    /// Residents that are alive and alone in their (name, birth date, sex) group.
    func uniques(_ all: [GeneratedResident], _ store: RegistryStore) throws -> [GeneratedResident] {
        try all.filter { g in
            guard g.resident.status == .alive,
                  case let .success(norm) = store.normaliser.normalise(g.resident.facts) else { return false }
            return try store.residents(sharing: norm).count == 1
        }
    }

    @Test func generatedRegistryLoadsViaBulkPathWithTheSameContent() throws {
        let a = try TempRegistry()
        try a.store.generate(seed: 9, count: 25_000, batchSize: 4000)
        #expect(try a.store.count() == 25_000)
        var generator = RegistryGenerator(seed: 9)
        let last = generator.batch(25_000).last?.resident
        #expect(try a.store.resident(code: last?.residentCode ?? "")?.resident == last)
        let stats = try a.store.stats()
        #expect(stats.homonymGroups > 0)
        #expect(stats.ambiguousGroups > 0)
        #expect(stats.alive + stats.deceased == 25_000)
    }

    @Test func plainAndVariantSpellingsOfAUniqueResidentMatchExactlyThem() throws {
        let (registry, all) = try generated(6000)
        let matcher = Matcher(store: registry.store)
        let candidates = try uniques(all, registry.store)
        let variants = candidates.filter(\.variantSpelling)
        #expect(variants.count > 100)
        for g in variants.prefix(200) + candidates.prefix(100) {
            let ticket = try matcher.match(facts: g.plainFacts, orgCode: org, consentRef: "c-1", now: t0).get()
            #expect(ticket.residentCode == g.resident.residentCode)
            #expect(ticket.matchingNumber.count == 20)
            // The recorded spelling itself matches too.
            #expect(try matcher.match(facts: g.resident.facts, orgCode: org, consentRef: "c-1", now: t0).get().residentCode
                == g.resident.residentCode)
        }
    }

    @Test func handMadeNearDuplicatesMatchOne() throws {
        let registry = try TempRegistry()
        try registry.store.insert([
            Resident(residentCode: "00000000001", myNumber: "123456789018", name: "髙橋　一郎", nameKana: "タカハシ イチロウ",
                     address: "東京都世田谷区桜台２丁目１４番３号　サンハイツ２０１号室", birthDate: "1970-05-06", sex: .male),
            Resident(residentCode: "00000000002", myNumber: MyNumberFixture.make("00000000002"), name: "高橋 一郎",
                     nameKana: "タカハシ イチロウ", address: "大阪府堺市堺区本町1-1-1", birthDate: "1970-05-06", sex: .male),
        ])
        let matcher = Matcher(store: registry.store)
        for facts in [
            Facts(name: "高橋一郎", address: "東京都世田谷区桜台2-14-3 サンハイツ201", birthDate: "1970-05-06", sex: .male),
            Facts(name: "髙橋 一郎", nameKana: "たかはし いちろう", address: "東京都世田谷区桜台二丁目14番3号サンハイツ201号室",
                  birthDate: "昭和45年5月6日", sex: .male),
            Facts(name: "高橋　一郎", nameKana: "ﾀｶﾊｼ ｲﾁﾛｳ", address: "東京都世田谷区桜台２－１４－３　サンハイツ　２０１",
                  birthDate: "1970/05/06", sex: .male),
        ] {
            #expect(try matcher.match(facts: facts, orgCode: org, consentRef: "c", now: t0).get().residentCode == "00000000001")
        }
        // Wrong kana, wrong sex, wrong birth date, other address: no match.
        let base = Facts(name: "高橋一郎", address: "東京都世田谷区桜台2-14-3 サンハイツ201", birthDate: "1970-05-06", sex: .male)
        var wrong = base
        wrong.nameKana = "タカバシ イチロウ"
        #expect(try matcher.match(facts: wrong, orgCode: org, consentRef: "c", now: t0) == .failure(.noUniqueMatch))
        wrong = base
        wrong.sex = .female
        #expect(try matcher.match(facts: wrong, orgCode: org, consentRef: "c", now: t0) == .failure(.noUniqueMatch))
        wrong = base
        wrong.birthDate = "1970-05-07"
        #expect(try matcher.match(facts: wrong, orgCode: org, consentRef: "c", now: t0) == .failure(.noUniqueMatch))
        wrong = base
        wrong.address = "東京都世田谷区桜台2-14-3 サンハイツ202"
        #expect(try matcher.match(facts: wrong, orgCode: org, consentRef: "c", now: t0) == .failure(.noUniqueMatch))
    }

    @Test func homonymsAtOneAddressNeverMatchAndSayNothing() throws {
        let (registry, _) = try generated(20000)
        let matcher = Matcher(store: registry.store)
        let groups = try registry.store.homonymGroups(limit: 20, sameAddress: true)
        #expect(!groups.isEmpty)
        for group in groups {
            for code in group {
                let r = try #require(try registry.store.resident(code: code)).resident
                var facts = r.facts
                facts.nameKana = nil  // kana may tell same-kanji homonyms apart; without it nothing can
                #expect(try matcher.match(facts: facts, orgCode: org, consentRef: "c", now: t0) == .failure(.noUniqueMatch))
            }
        }
        // Homonyms at different addresses: the address tells them apart.
        let spread = try registry.store.homonymGroups(limit: 50).filter { group in
            let addresses = try group.compactMap { try registry.store.resident(code: $0)?.normalised.address }
            return Set(addresses).count == group.count
        }
        #expect(!spread.isEmpty)
        for group in spread.prefix(10) {
            for code in group {
                let r = try #require(try registry.store.resident(code: code)).resident
                #expect(try matcher.match(facts: r.facts, orgCode: org, consentRef: "c", now: t0).get().residentCode == code)
            }
        }
    }

    /// `registry sample`: residents a tester can find with what the command prints.
    @Test func sampleResidentsMatchByTheirFourFactsAndByMyNumber() throws {
        let (registry, _) = try generated(20000)
        let matcher = Matcher(store: registry.store)
        let sample = try registry.store.sample(count: 5)
        #expect(sample.count == 5)
        #expect(sample.map(\.residentCode) == sample.map(\.residentCode).sorted())
        for r in sample {
            #expect(r.status == .alive)
            var facts = r.facts
            facts.nameKana = nil  // the four facts alone, as printed
            #expect(try matcher.match(facts: facts, orgCode: org, consentRef: "c", now: t0).get().residentCode == r.residentCode)
            #expect(try matcher.match(myNumber: r.myNumber, orgCode: org, consentRef: "c", now: t0).get().residentCode == r.residentCode)
        }
    }

    @Test func deceasedResidentsDoNotMatch() throws {
        let (registry, all) = try generated(3000)
        let matcher = Matcher(store: registry.store)
        let dead = all.filter { $0.resident.status == .deceased }
        #expect(!dead.isEmpty)
        for g in dead {
            #expect(try matcher.match(facts: g.resident.facts, orgCode: org, consentRef: "c", now: t0) == .failure(.noUniqueMatch))
            #expect(try matcher.match(myNumber: g.resident.myNumber, orgCode: org, consentRef: "c", now: t0) == .failure(.noUniqueMatch))
        }
        // A death recorded later stops matching and voids outstanding tickets.
        let alive = try #require(try uniques(all, registry.store).first)
        let ticket = try matcher.match(facts: alive.plainFacts, orgCode: org, consentRef: "c", now: t0).get()
        let change = try registry.store.apply(.died, to: alive.resident.residentCode, at: t0)
        #expect(change.residentCode == alive.resident.residentCode)
        #expect(try matcher.match(facts: alive.plainFacts, orgCode: org, consentRef: "c", now: t0) == .failure(.noUniqueMatch))
        #expect(try matcher.consume(matchingNumber: ticket.matchingNumber, orgCode: org, now: t0) == .failure(.invalidMatchingNumber))
    }

    @Test func myNumberMatching() throws {
        let (registry, all) = try generated(500)
        let matcher = Matcher(store: registry.store)
        let r = try #require(all.first { $0.resident.status == .alive }).resident
        #expect(try matcher.match(myNumber: r.myNumber, orgCode: org, consentRef: "c", now: t0).get().residentCode == r.residentCode)
        let spaced = String(r.myNumber.prefix(4)) + " " + String(r.myNumber.dropFirst(4).prefix(4)) + "　" + String(r.myNumber.suffix(4))
        #expect(try matcher.match(myNumber: spaced, orgCode: org, consentRef: "c", now: t0).get().residentCode == r.residentCode)
        let last = r.myNumber.utf8.last.map { Int($0) - 48 } ?? 0
        let wrongCheck = String(r.myNumber.prefix(11)) + String((last + 1) % 10)
        #expect(try matcher.match(myNumber: wrongCheck, orgCode: org, consentRef: "c", now: t0)
            == .failure(.invalidInput("my_number: check digit mismatch")))
        #expect(try matcher.match(myNumber: "123", orgCode: org, consentRef: "c", now: t0)
            == .failure(.invalidInput("my_number: must be 12 digits")))
        // A valid number nobody holds.
        #expect(try matcher.match(myNumber: "123456789018", orgCode: org, consentRef: "c", now: t0) == .failure(.noUniqueMatch))
    }

    @Test func invalidInputIsNotANoMatch() throws {
        let (registry, _) = try generated(10)
        let matcher = Matcher(store: registry.store)
        let facts = Facts(name: "山田太郎", address: "本町1-2-3", birthDate: "1975-02-30", sex: .male)
        #expect(try matcher.match(facts: facts, orgCode: org, consentRef: "c", now: t0)
            == .failure(.invalidInput("birth_date: not a valid date")))
        var ok = facts
        ok.birthDate = "1975-02-03"
        #expect(try matcher.match(facts: ok, orgCode: "", consentRef: "c", now: t0) == .failure(.invalidInput("org_code: missing")))
        #expect(try matcher.match(facts: ok, orgCode: org, consentRef: " ", now: t0) == .failure(.invalidInput("consent_ref: missing")))
    }

    @Test func matchingNumbersAreSingleUseExpireAndBelongToOneOrg() throws {
        let (registry, all) = try generated(2000)
        let matcher = Matcher(store: registry.store, ticketLifetime: 60)
        let g = try #require(try uniques(all, registry.store).first)
        let t1 = try matcher.match(facts: g.plainFacts, orgCode: org, consentRef: "c", now: t0).get()
        let t2 = try matcher.match(facts: g.plainFacts, orgCode: org, consentRef: "c", now: t0).get()
        #expect(t1.matchingNumber != t2.matchingNumber)
        #expect(t1.expiresAt == t0.addingTimeInterval(60))
        #expect(t1.matchingNumber.allSatisfy { "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".contains($0) })
        // Another organisation cannot redeem it, and trying does not burn it.
        #expect(try matcher.consume(matchingNumber: t1.matchingNumber, orgCode: "BANK01", now: t0) == .failure(.invalidMatchingNumber))
        #expect(try matcher.consume(matchingNumber: t1.matchingNumber, orgCode: org, now: t0.addingTimeInterval(59))
            == .success(g.resident.residentCode))
        // Replay.
        #expect(try matcher.consume(matchingNumber: t1.matchingNumber, orgCode: org, now: t0.addingTimeInterval(1))
            == .failure(.invalidMatchingNumber))
        // Expiry.
        #expect(try matcher.consume(matchingNumber: t2.matchingNumber, orgCode: org, now: t0.addingTimeInterval(60))
            == .failure(.invalidMatchingNumber))
        // Unknown.
        #expect(try matcher.consume(matchingNumber: "AAAAAAAAAAAAAAAAAAAA", orgCode: org, now: t0) == .failure(.invalidMatchingNumber))
        let stats = try registry.store.stats(now: t0.addingTimeInterval(120))
        #expect(stats.matchingNumbersUsed == 1)
        #expect(stats.matchingNumbersExpired == 1)
        #expect(try matcher.purge(before: t0.addingTimeInterval(120)) == 2)
    }

    @Test func movesAndRenamesChangeWhatMatches() throws {
        let (registry, all) = try generated(1000)
        let matcher = Matcher(store: registry.store)
        let g = try #require(try uniques(all, registry.store).first)
        let code = g.resident.residentCode
        let moved = try registry.store.apply(.moved(address: "沖縄県那覇市泉崎1丁目1番1号"), to: code, at: t0)
        #expect(moved.kind == "moved")
        #expect(try matcher.match(facts: g.plainFacts, orgCode: org, consentRef: "c", now: t0) == .failure(.noUniqueMatch))
        var facts = g.plainFacts
        facts.address = "沖縄県那覇市泉崎1-1-1"
        #expect(try matcher.match(facts: facts, orgCode: org, consentRef: "c", now: t0).get().residentCode == code)
        try registry.store.apply(.renamed(name: "試験 花子", nameKana: "シケン ハナコ"), to: code, at: t0)
        facts.name = "試験花子"
        facts.nameKana = "しけん はなこ"
        #expect(try matcher.match(facts: facts, orgCode: org, consentRef: "c", now: t0).get().residentCode == code)
        try registry.store.apply(.died, to: code, at: t0)
        #expect(throws: RegistryError.deceased(code)) { try registry.store.apply(.moved(address: "x1"), to: code, at: t0) }
        #expect(throws: RegistryError.unknownResident("99999999999")) { try registry.store.apply(.died, to: "99999999999", at: t0) }
        #expect(try registry.store.changes().map(\.kind) == ["moved", "renamed", "died"])
        #expect(try registry.store.changes(after: 2).count == 1)
    }
}

enum MyNumberFixture {
    /// A valid My Number whose body is `body` (11 digits).
    static func make(_ body: String) -> String { body + String(MyNumber.checkDigit(forBody: body) ?? 0) }
}
