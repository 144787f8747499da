@testable import LinkcoreLinkCodes
import Testing

/// The ASCII fast path of `LinkCodeFormat.decode` and the character-by-character `Reader` (which
/// the Unicode path uses) must agree on every input: well-formed codes, every field value, and
/// codes with a character changed, dropped, doubled or a separator put in.
@Suite struct DecodeEquivalenceTests {
    private static let symbols = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    private static let extra = Array("-  ilo!.:@z\u{7F}\t".utf8)

    private static func byReader(_ bytes: [UInt8]) -> (UInt16, UInt128)? {
        var reader = LinkCodeFormat.Reader()
        for b in bytes where !reader.add(ascii: b) { return nil }
        return reader.fields().map { ($0.index, $0.block) }
    }

    private static func fast(_ bytes: [UInt8]) -> (UInt16, UInt128)? {
        switch bytes.withUnsafeBufferPointer(LinkCodeFormat.decodeASCII) {
        case .fields(let index, let block): return (index, block)
        case .malformed: return nil
        case .unicode: Issue.record("ASCII input sent to the Unicode path"); return nil
        }
    }

    @Test func bothPathsAgreeOnCodesAndTheirMutations() {
        var rng = SystemRandomNumberGenerator()
        var agreed = 0, wellFormed = 0
        for round in 0..<3_000 {
            let index = UInt16(round % 1024)
            let block = UInt128(rng.next() as UInt64) << 64 | UInt128(rng.next() as UInt64)
            let code = Array(LinkCodeFormat.encode(index: index, block: block).utf8)
            var inputs = [code, Array(code.reversed())]
            let at = Int.random(in: 0..<code.count, using: &rng)
            var changed = code
            changed[at] = Self.symbols.randomElement(using: &rng) ?? 0
            inputs.append(changed)
            var odd = code
            odd[at] = Self.extra.randomElement(using: &rng) ?? 0
            inputs.append(odd)
            inputs.append(Array(code[..<at] + code[(at + 1)...]))
            inputs.append(Array(code[...at] + code[at...]))
            inputs.append(Array(code[..<at] + Array("-".utf8) + code[at...]))
            inputs.append(code.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 })
            for input in inputs {
                let a = Self.byReader(input), b = Self.fast(input)
                #expect(a?.0 == b?.0 && a?.1 == b?.1, "\(String(decoding: input, as: UTF8.self))")
                if a != nil { wellFormed += 1 }
                agreed += 1
            }
            // The code itself decodes to its fields.
            let decoded = Self.fast(code)
            #expect(decoded?.0 == index && decoded?.1 == block)
        }
        #expect(agreed == 24_000)
        #expect(wellFormed >= 9_000)   // the code, its lower-case and hyphenated forms at least
    }
}
