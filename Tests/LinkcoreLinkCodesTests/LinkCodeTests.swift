import Testing
@testable import LinkcoreLinkCodes

private let master = (0..<32).map { UInt8($0) }
private let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
private let symbols = Array(UnsafeBufferPointer(start: LinkCodeFormat.symbols.utf8Start, count: 32))

private func keyring(_ secret: [UInt8] = master) throws -> LinkCodeKeyring {
    try LinkCodeKeyring(masterSecret: secret)
}

/// A deterministic generator so failures reproduce (SplitMix64).
private struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Known answers")
struct KnownAnswerTests {
    // Computed once with an independent Python implementation (cryptography: HKDF, AES-256-ECB)
    // of docs/link-codes.md; the HKDF output of the first row was also checked with
    // `openssl kdf ... HKDF`. A change to the scheme must change the version, not these rows.
    static let vectors: [(id: UInt64, org: String, index: UInt16, code: String)] = [
        (0x0123_4567_89AB_CDEF, "ORG-A", 1, "01W13VKPMMAVSWV79KZ60N7Y0Z9RT"),
        (0x0123_4567_89AB_CDEF, "ORG-B", 1, "01C38GMPKEVHX2W8G7AJKCR5GR70Y"),
        (0x0123_4567_89AB_CDEF, "ORG-A", 2, "02K76YAPCQRD1KY915F74WS9TDG8C"),
        (0, "MUNI-131016", 0, "00T6NJYBYX1RTQ7BYK64GHNMMD7CJ"),
        (0xFFFF_FFFF_FFFF_FFFF, "BANK:0005", 1023, "ZZ8K54PRH0WWBYY3ND749E0HDHTCE"),
    ]

    @Test func pinnedVectors() throws {
        let ring = try keyring()
        for v in Self.vectors {
            let code = try ring.issue(IDCode(rawValue: v.id), org: v.org, keyIndex: KeyIndex(rawValue: v.index))
            #expect(code == v.code, "\(v.org) \(v.index)")
            let opened = ring.open(v.code, org: v.org)
            #expect(opened?.0 == IDCode(rawValue: v.id))
            #expect(opened?.1 == KeyIndex(rawValue: v.index))
        }
    }

    @Test func otherMasterSecretVector() throws {
        let ring = try keyring((1...32).map { UInt8($0) })
        let code = try ring.issue(IDCode(rawValue: 0x0123_4567_89AB_CDEF), org: "ORG-A", keyIndex: KeyIndex(rawValue: 1))
        #expect(code == "01XB50QZFJHWZXEQJY36EWQBSA44H")
    }

    @Test func hkdfInfoLayout() {
        let info = LinkCodeKeyring.info(org: "ORG-A", index: 0x0102)
        #expect(info == Array("linkcore link-code v1".utf8) + [0, 5] + Array("ORG-A".utf8) + [1, 2])
    }
}

@Suite("Issue and open")
struct IssueOpenTests {
    static let orgs = ["ORG-A", "ORG-B", "MUNI-131016", "BANK:0005", "portal", "x"]

    @Test func roundTripManyRandom() throws {
        let ring = try keyring()
        var rng = SplitMix(state: 1)
        for _ in 0..<5_000 {
            let id = IDCode(rawValue: rng.next())
            let org = Self.orgs[Int(rng.next() % UInt64(Self.orgs.count))]
            let index = KeyIndex(rawValue: UInt16(rng.next() % 1024))
            let code = try ring.issue(id, org: org, keyIndex: index)
            #expect(code.utf8.count == LinkCodeFormat.length)
            #expect(LinkCodeFormat.normalise(code) == code)
            let opened = try #require(ring.open(code, org: org))
            #expect(opened.0 == id && opened.1 == index)
        }
    }

    @Test func keyIndexIsTheVisiblePrefix() throws {
        let ring = try keyring()
        for (raw, prefix) in [(0, "00"), (1, "01"), (31, "0Z"), (32, "10"), (1023, "ZZ")] {
            let code = try ring.issue(IDCode.random(), org: "ORG-A", keyIndex: KeyIndex(rawValue: UInt16(raw)))
            #expect(code.hasPrefix(prefix))
        }
    }

    @Test func anotherOrganisationsCodeDoesNotOpen() throws {
        let ring = try keyring()
        var rng = SplitMix(state: 2)
        for _ in 0..<2_000 {
            let id = IDCode(rawValue: rng.next())
            let index = KeyIndex(rawValue: UInt16(rng.next() % 4))
            let code = try ring.issue(id, org: "ORG-A", keyIndex: index)
            for other in Self.orgs where other != "ORG-A" {
                #expect(ring.open(code, org: other) == nil)
            }
            #expect(ring.open(code, org: "ORG-a") == nil)  // org codes are case-sensitive bytes
        }
    }

    @Test func changedKeyIndexDoesNotOpen() throws {
        let ring = try keyring()
        let code = try ring.issue(IDCode(rawValue: 42), org: "ORG-A", keyIndex: KeyIndex(rawValue: 1))
        // Same block, another index, recomputed check character: a well-formed code that must fail.
        let fields = try #require(LinkCodeFormat.decode(code))
        for index in [UInt16(0), 2, 3, 1023] {
            let moved = LinkCodeFormat.encode(index: index, block: fields.block)
            #expect(LinkCodeFormat.normalise(moved) != nil)
            #expect(ring.open(moved, org: "ORG-A") == nil)
        }
    }

    @Test func oldKeyIndexStillOpensAfterRotation() throws {
        let ring = try keyring()
        let id = IDCode.random()
        let old = try ring.issue(id, org: "ORG-A", keyIndex: KeyIndex(rawValue: 1))
        let new = try ring.issue(id, org: "ORG-A", keyIndex: KeyIndex(rawValue: 2))
        #expect(old != new)
        #expect(ring.open(new, org: "ORG-A")?.1 == KeyIndex(rawValue: 2))
        #expect(ring.open(old, org: "ORG-A")?.1 == KeyIndex(rawValue: 1))
        #expect(ring.open(old, org: "ORG-A")?.0 == id)
        // And in a fresh process (empty cache) both still open.
        let restarted = try keyring()
        #expect(restarted.open(old, org: "ORG-A")?.0 == id)
        #expect(restarted.open(new, org: "ORG-A")?.0 == id)
    }

    @Test func deterministic() throws {
        let a = try keyring(), b = try keyring()
        let other = try keyring(master.map { $0 ^ 0x80 })
        var rng = SplitMix(state: 3)
        for _ in 0..<200 {
            let id = IDCode(rawValue: rng.next())
            let ca = try a.issue(id, org: "ORG-A", keyIndex: KeyIndex(rawValue: 7))
            #expect(try a.issue(id, org: "ORG-A", keyIndex: KeyIndex(rawValue: 7)) == ca)
            #expect(try b.issue(id, org: "ORG-A", keyIndex: KeyIndex(rawValue: 7)) == ca)
            #expect(try other.issue(id, org: "ORG-A", keyIndex: KeyIndex(rawValue: 7)) != ca)
            #expect(other.open(ca, org: "ORG-A") == nil)
        }
    }

    @Test func distinctIDsGiveDistinctCodes() throws {
        let ring = try keyring()
        var seen = Set<String>()
        for raw in 0..<UInt64(3_000) {
            seen.insert(try ring.issue(IDCode(rawValue: raw), org: "ORG-A", keyIndex: KeyIndex(rawValue: 1)))
        }
        #expect(seen.count == 3_000)
    }

    @Test func convert() throws {
        let ring = try keyring()
        let id = IDCode.random()
        let la = try ring.issue(id, org: "ORG-A", keyIndex: KeyIndex(rawValue: 3))
        let lb = try ring.issue(id, org: "ORG-B", keyIndex: KeyIndex(rawValue: 5))
        #expect(la != lb)
        #expect(ring.convert(la, from: "ORG-A", to: "ORG-B", toKeyIndex: KeyIndex(rawValue: 5)) == lb)
        #expect(ring.convert(LinkCodeFormat.display(la).lowercased(), from: "ORG-A", to: "ORG-B",
                             toKeyIndex: KeyIndex(rawValue: 5)) == lb)
        #expect(ring.convert(lb, from: "ORG-A", to: "ORG-B", toKeyIndex: KeyIndex(rawValue: 5)) == nil)
        #expect(ring.convert(la, from: "ORG-A", to: "", toKeyIndex: KeyIndex(rawValue: 5)) == nil)
        #expect(ring.convert(la, from: "ORG-A", to: "ORG-B", toKeyIndex: KeyIndex(rawValue: 1024)) == nil)
    }

    @Test func refusals() throws {
        #expect(throws: LinkCodeError.masterSecretTooShort) { try LinkCodeKeyring(masterSecret: []) }
        #expect(throws: LinkCodeError.masterSecretTooShort) {
            try LinkCodeKeyring(masterSecret: [UInt8](repeating: 7, count: 31))
        }
        let ring = try keyring()
        let id = IDCode.random()
        for bad in ["", "ORG A", "ORG-\u{00C9}", "組織", "ORG\n", String(repeating: "A", count: 65)] {
            #expect(throws: LinkCodeError.invalidOrganisation) {
                try ring.issue(id, org: bad, keyIndex: KeyIndex(rawValue: 1))
            }
        }
        _ = try ring.issue(id, org: String(repeating: "A", count: 64), keyIndex: KeyIndex(rawValue: 1))
        #expect(throws: LinkCodeError.keyIndexOutOfRange) {
            try ring.issue(id, org: "ORG-A", keyIndex: KeyIndex(rawValue: 1024))
        }
        let code = try ring.issue(id, org: "ORG-A", keyIndex: .maximum)
        #expect(ring.open(code, org: "") == nil)
        #expect(ring.open(code, org: "ORG A") == nil)
        for garbage in ["", "0", "hello", String(repeating: "0", count: 29), String(repeating: "Z", count: 500)] {
            #expect(ring.open(garbage, org: "ORG-A") == nil)
        }
    }

    @Test func concurrentUse() async throws {
        let ring = try keyring()
        let ok = await withTaskGroup(of: Bool.self) { group in
            for t in 0..<8 {
                group.addTask {
                    var rng = SplitMix(state: UInt64(100 + t))
                    for _ in 0..<500 {
                        let id = IDCode(rawValue: rng.next())
                        let org = IssueOpenTests.orgs[Int(rng.next() % 3)]
                        let index = KeyIndex(rawValue: UInt16(rng.next() % 3))
                        guard let code = try? ring.issue(id, org: org, keyIndex: index),
                              let opened = ring.open(code, org: org),
                              opened.0 == id, opened.1 == index
                        else { return false }
                    }
                    return true
                }
            }
            var all = true
            for await r in group { all = all && r }
            return all
        }
        #expect(ok)
    }

    @Test func cacheEvictionKeepsWorking() throws {
        let ring = try keyring()
        let id = IDCode(rawValue: 99)
        let first = try ring.issue(id, org: "ORG-0", keyIndex: KeyIndex(rawValue: 0))
        for n in 0..<(LinkCodeKeyring.maximumCachedKeys + 100) {
            _ = try ring.issue(id, org: "ORG-\(n % 1000)", keyIndex: KeyIndex(rawValue: UInt16(n / 1000)))
        }
        #expect(ring.open(first, org: "ORG-0")?.0 == id)
        #expect(try ring.issue(id, org: "ORG-0", keyIndex: KeyIndex(rawValue: 0)) == first)
    }
}

@Suite("Errors are caught before any lookup")
struct ErrorDetectionTests {
    @Test func everySingleSubstitutionIsRejected() throws {
        let ring = try keyring()
        var rng = SplitMix(state: 4)
        for _ in 0..<20 {
            let code = Array(try ring.issue(IDCode(rawValue: rng.next()), org: "ORG-A",
                                            keyIndex: KeyIndex(rawValue: UInt16(rng.next() % 1024))))
            for i in code.indices {
                for c in alphabet where c != code[i] {
                    var typo = code
                    typo[i] = c
                    let text = String(typo)
                    #expect(LinkCodeFormat.normalise(text) == nil, "position \(i)")
                    #expect(ring.open(text, org: "ORG-A") == nil)
                }
            }
        }
    }

    @Test func everyTranspositionIsRejected() throws {
        let ring = try keyring()
        var rng = SplitMix(state: 5)
        for _ in 0..<20 {
            let code = Array(try ring.issue(IDCode(rawValue: rng.next()), org: "ORG-A", keyIndex: KeyIndex(rawValue: 1)))
            for i in code.indices {
                for j in code.indices where j > i && code[i] != code[j] {
                    var swapped = code
                    swapped.swapAt(i, j)
                    let text = String(swapped)
                    #expect(LinkCodeFormat.normalise(text) == nil, "swap \(i) \(j)")  // any distance, not only adjacent
                    if j == i + 1 { #expect(ring.open(text, org: "ORG-A") == nil) }
                }
            }
        }
    }

    @Test func randomBlocksWithValidCheckCharacterAreRejected() throws {
        let ring = try keyring()
        var rng = SplitMix(state: 6)
        var accepted = 0
        for n in 0..<100_000 {
            let block = UInt128(rng.next()) << 64 | UInt128(rng.next())
            let index = n % 2 == 0 ? UInt16(1) : UInt16(rng.next() % 1024)
            let forged = LinkCodeFormat.encode(index: index, block: block)
            if ring.open(forged, org: "ORG-A") != nil { accepted += 1 }
        }
        #expect(accepted == 0)
    }

    @Test func alphaGeneratesGF32() {
        var v: UInt8 = 1
        var order = 0
        repeat {
            v = LinkCodeFormat.timesAlpha(v)
            order += 1
            #expect(v < 32)
        } while v != 1
        #expect(order == 31)  // so weights α^0...α^28 are distinct: any two-character swap changes the sum
    }
}

@Suite("Text form")
struct FormatTests {
    static let code = "01W13VKPMMAVSWV79KZ60N7Y0Z9RT"

    @Test func normalisesSpellings() {
        let c = Self.code
        #expect(LinkCodeFormat.normalise(c) == c)
        #expect(LinkCodeFormat.normalise(c.lowercased()) == c)
        #expect(LinkCodeFormat.normalise(LinkCodeFormat.display(c)) == c)
        #expect(LinkCodeFormat.normalise("  01w13-vkpmm avswv\t79kz6-0n7y0-z9rt ") == c)
        // Crockford look-alikes: 1 may be typed I or L, 0 may be typed O.
        #expect(LinkCodeFormat.normalise("OIW13VKPMMAVSWV79KZ6ON7YOZ9RT") == c)
        #expect(LinkCodeFormat.normalise("olw13vkpmmavswv79kz6on7yoz9rt") == c)
        // Full-width forms and Japanese separators, as an IME may produce them.
        #expect(LinkCodeFormat.normalise("０１Ｗ１３ーＶＫＰＭＭ－ａｖｓｗｖ　79KZ60N7Y0Z9RT") == c)
    }

    @Test func displayGroups() {
        #expect(LinkCodeFormat.display(Self.code) == "01W13-VKPMM-AVSWV-79KZ6-0N7Y0-Z9RT")
        #expect(LinkCodeFormat.display("01w13vkpmmavswv79kz60n7y0z9rt") == "01W13-VKPMM-AVSWV-79KZ6-0N7Y0-Z9RT")
        #expect(LinkCodeFormat.display("not a code") == "not a code")
    }

    @Test func rejectsMalformed() {
        let c = Self.code
        #expect(LinkCodeFormat.normalise("") == nil)
        #expect(LinkCodeFormat.normalise(String(c.dropLast())) == nil)
        #expect(LinkCodeFormat.normalise(c + "0") == nil)
        #expect(LinkCodeFormat.normalise("U" + c.dropFirst()) == nil)       // U is not in the alphabet
        #expect(LinkCodeFormat.normalise(c.replacingFirst("W", with: "_")) == nil)
        #expect(LinkCodeFormat.normalise(c + String(repeating: "-", count: 200)) == nil) // over the input cap
        #expect(LinkCodeFormat.normalise("01W13VKPMMAVSWV79KZ60N7Y0Z9Rт") == nil)     // Cyrillic т
    }

    @Test func rejectsNonZeroReservedBits() {
        // Digit 27 carries 3 data bits and 2 reserved bits; set a reserved bit and fix the check.
        var digits = Array(Self.code.utf8).map { b in UInt8(symbols.firstIndex(of: b) ?? 0) }
        digits[27] |= 1
        digits[28] = LinkCodeFormat.checkDigit(digits[0..<28])
        let text = String(decoding: digits.map { symbols[Int($0)] }, as: UTF8.self)
        #expect(LinkCodeFormat.normalise(text) == nil)
        digits[27] &= ~3
        digits[28] = LinkCodeFormat.checkDigit(digits[0..<28])
        #expect(LinkCodeFormat.normalise(String(decoding: digits.map { symbols[Int($0)] }, as: UTF8.self)) == Self.code)
    }

    @Test func decodingTableMatchesSymbols() {
        #expect(symbols == Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8))
        #expect(LinkCodeFormat.decodingTable.utf8CodeUnitCount == 128)
        for b in UInt8(0)..<128 {
            var expected: UInt8?   // digit value, or nil for "refused"; separators handled below
            if let v = symbols.firstIndex(of: b) { expected = UInt8(v) }
            if let v = symbols.firstIndex(of: b & ~0x20), (0x61...0x7A).contains(b) { expected = UInt8(v) }
            if [UInt8(ascii: "I"), UInt8(ascii: "i"), UInt8(ascii: "L"), UInt8(ascii: "l")].contains(b) { expected = 1 }
            if [UInt8(ascii: "O"), UInt8(ascii: "o")].contains(b) { expected = 0 }
            var reader = LinkCodeFormat.Reader()
            let accepted = reader.add(ascii: b)
            if [UInt8(ascii: "-"), UInt8(ascii: " "), UInt8(ascii: "\t")].contains(b) {
                #expect(accepted && reader.count == 0, "byte \(b)")
            } else if let expected {
                #expect(accepted && reader.count == 1 && reader.index == UInt16(expected), "byte \(b)")
            } else {
                #expect(!accepted, "byte \(b)")
            }
        }
    }

    @Test func idCodesAreRedacted() {
        let id = IDCode(rawValue: 0xDEAD_BEEF)
        for text in [String(describing: id), String(reflecting: id), "\(id)", "\(String(describing: [id]))"] {
            #expect(!text.contains("3735928559") && !text.lowercased().contains("deadbeef"))
        }
        var dumped = ""
        dump(id, to: &dumped)
        #expect(!dumped.contains("3735928559"))
    }
}

private extension String {
    func replacingFirst(_ target: Character, with replacement: Character) -> String {
        guard let i = firstIndex(of: target) else { return self }
        var s = self
        s.replaceSubrange(i...i, with: String(replacement))
        return s
    }
}
