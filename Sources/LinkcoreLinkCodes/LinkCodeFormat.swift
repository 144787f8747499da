/// The text form of a link code (see `docs/link-codes.md`, "Text form").
///
/// Canonical form: 29 upper-case characters from Crockford's base32 alphabet
/// `0123456789ABCDEFGHJKMNPQRSTVWXYZ`:
///
/// ```
/// KK BBBBBBBBBBBBBBBBBBBBBBBBBB C
/// │  │                          └ check character (weighted sum over GF(32), catches every
/// │  │                            single substitution and every transposition of two characters)
/// │  └ 26 characters: the 16-byte AES block (128 bits) then 2 reserved zero bits
/// └ 2 characters: the key index (10 bits, 0...1023)
/// ```
///
/// Parsing ignores case, hyphens, spaces (and their full-width / Japanese forms) and reads
/// Crockford's look-alikes I, L as 1 and O as 0. Full-width letters and digits are accepted.
public enum LinkCodeFormat {
    /// Characters in the canonical form.
    public static let length = 29
    /// Longest input (UTF-8 bytes) that parsing looks at; longer input is refused unread.
    public static let maximumInputLength = 128

    /// The canonical form of `text` (upper case, no separators), or nil when `text` is not a
    /// well-formed link code: wrong length, a character outside the alphabet, a wrong check
    /// character, or non-zero reserved bits. This checks the form only; whether the code
    /// belongs to anyone is for `LinkCodeKeyring.open`.
    public static func normalise(_ text: String) -> String? {
        var digits = Digits()
        guard parse(text, into: &digits) else { return nil }
        return digits.text()
    }

    /// The code grouped for people: `XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-XXXX`. Parsing ignores the
    /// hyphens. Text that is not a well-formed link code is returned unchanged.
    public static func display(_ code: String) -> String {
        var digits = Digits()
        guard parse(code, into: &digits) else { return code }
        let canonical = Array(digits.text().utf8)
        var out: [UInt8] = []
        out.reserveCapacity(length + 5)
        for (i, c) in canonical.enumerated() {
            if i > 0 && i % 5 == 0 { out.append(UInt8(ascii: "-")) }
            out.append(c)
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - Internal: packing

    /// The text form of (key index, ciphertext block). `index` must be ≤ 1023.
    static func encode(index: UInt16, block: UInt128) -> String {
        var digits = Digits()
        digits.set(index: index, block: block)
        return digits.text()
    }

    /// (key index, ciphertext block) from any accepted spelling, or nil when malformed.
    static func decode(_ text: String) -> (index: UInt16, block: UInt128)? {
        var digits = Digits()
        guard parse(text, into: &digits) else { return nil }
        return digits.fields()
    }

    // MARK: - Internal: alphabet and check character

    static let alphabet: [UInt8] = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// ASCII → digit value; `separator` for ignorable characters, `invalid` otherwise.
    private static let separator: Int8 = -2
    private static let invalid: Int8 = -1
    private static let asciiValues: [Int8] = {
        var table = [Int8](repeating: invalid, count: 128)
        for (value, symbol) in alphabet.enumerated() {
            table[Int(symbol)] = Int8(value)
            let lower = symbol | 0x20
            if symbol >= UInt8(ascii: "A") { table[Int(lower)] = Int8(value) }
        }
        let aliases: [(UInt8, Int8)] = [
            (UInt8(ascii: "I"), 1), (UInt8(ascii: "i"), 1), (UInt8(ascii: "L"), 1),
            (UInt8(ascii: "l"), 1), (UInt8(ascii: "O"), 0), (UInt8(ascii: "o"), 0),
        ]
        for (alias, value) in aliases { table[Int(alias)] = value }
        for sep in [UInt8(ascii: "-"), UInt8(ascii: " "), UInt8(ascii: "\t")] {
            table[Int(sep)] = separator
        }
        return table
    }()

    /// Multiplication by the generator α = x in GF(2⁵) = GF(2)[x]/(x⁵ + x² + 1).
    @inline(__always)
    static func timesAlpha(_ v: UInt8) -> UInt8 {
        let shifted = v << 1
        return (v & 0x10) != 0 ? shifted ^ 0x25 : shifted
    }

    /// The check digit for 28 data digits: α · Σ dᵢ α^(27-i), so that the 29-digit weighted sum
    /// Σ dᵢ α^(28-i) is zero.
    static func checkDigit<C: Collection<UInt8>>(_ data: C) -> UInt8 {
        var s: UInt8 = 0
        for d in data { s = timesAlpha(s) ^ d }
        return timesAlpha(s)
    }

    /// Fixed storage for the 29 digit values of one code (no heap allocation).
    struct Digits {
        var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

        @inline(__always)
        func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
            withUnsafeBytes(of: storage) { raw in
                body(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: LinkCodeFormat.length))
            }
        }

        @inline(__always)
        mutating func withMutableBytes<R>(_ body: (UnsafeMutableBufferPointer<UInt8>) -> R) -> R {
            withUnsafeMutableBytes(of: &storage) { raw in
                body(UnsafeMutableBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: LinkCodeFormat.length))
            }
        }

        mutating func set(index: UInt16, block: UInt128) {
            withMutableBytes { d in
                d[0] = UInt8(truncatingIfNeeded: (index >> 5) & 31)
                d[1] = UInt8(truncatingIfNeeded: index & 31)
                var rest = block
                d[27] = UInt8(truncatingIfNeeded: rest & 7) << 2   // 3 data bits + 2 reserved zero bits
                rest >>= 3
                var i = 26
                while i >= 2 {
                    d[i] = UInt8(truncatingIfNeeded: rest & 31)
                    rest >>= 5
                    i -= 1
                }
                d[28] = LinkCodeFormat.checkDigit(UnsafeBufferPointer(rebasing: d[0..<28]))
            }
        }

        func fields() -> (index: UInt16, block: UInt128) {
            withBytes { d in
                let index = UInt16(d[0]) << 5 | UInt16(d[1])
                var block: UInt128 = 0
                for i in 2...26 { block = block << 5 | UInt128(d[i]) }
                block = block << 3 | UInt128(d[27] >> 2)
                return (index, block)
            }
        }

        func text() -> String {
            withBytes { d in
                String(unsafeUninitializedCapacity: LinkCodeFormat.length) { out in
                    LinkCodeFormat.alphabet.withUnsafeBufferPointer { symbols in
                        for i in 0..<LinkCodeFormat.length { out[i] = symbols[Int(d[i])] }
                    }
                    return LinkCodeFormat.length
                }
            }
        }
    }

    /// Reads `text` into 29 digit values and checks the check digit and the reserved bits.
    static func parse(_ text: String, into digits: inout Digits) -> Bool {
        let utf8 = text.utf8
        guard utf8.count <= maximumInputLength else { return false }
        let read: Int? = digits.withMutableBytes { out in
            if let fast = utf8.withContiguousStorageIfAvailable({ readASCII($0, into: out) }) {
                return fast ?? readUnicode(text, into: out)
            }
            return readUnicode(text, into: out)
        }
        guard read == length else { return false }
        return digits.withBytes { d in
            var s: UInt8 = 0
            for v in d { s = timesAlpha(s) ^ v }
            // Weighted sum zero ⇔ check digit right; the last data digit carries 2 reserved bits.
            return s == 0 && (d[27] & 3) == 0
        }
    }

    /// Count of digits read, nil when a non-ASCII byte needs the Unicode path, or -1 if invalid.
    private static func readASCII(_ bytes: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> Int? {
        var n = 0
        return asciiValues.withUnsafeBufferPointer { table in
            for b in bytes {
                guard b < 0x80 else { return nil }
                let v = table[Int(b)]
                if v == separator { continue }
                guard v >= 0, n < length else { return -1 }
                out[n] = UInt8(v)
                n += 1
            }
            return n
        }
    }

    private static func readUnicode(_ text: String, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var n = 0
        for scalar in text.unicodeScalars {
            var value = scalar.value
            switch value {
            case 0xFF10...0xFF19, 0xFF21...0xFF3A, 0xFF41...0xFF5A:
                value -= 0xFEE0                          // full-width digit or Latin letter
            case 0x3000, 0xFF0D, 0x2010...0x2015, 0x2212, 0x30FC, 0xFF70:
                continue                                 // ideographic space, dashes, ー
            default:
                break
            }
            guard value < 0x80 else { return -1 }
            let v = asciiValues[Int(value)]
            if v == separator { continue }
            guard v >= 0, n < length else { return -1 }
            out[n] = UInt8(v)
            n += 1
        }
        return n
    }
}
