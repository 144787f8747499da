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
        guard let fields = decode(text) else { return nil }
        return encode(index: fields.index, block: fields.block)
    }

    /// The code grouped for people: `XXXXX-XXXXX-XXXXX-XXXXX-XXXXX-XXXX`. Parsing ignores the
    /// hyphens. Text that is not a well-formed link code is returned unchanged.
    public static func display(_ code: String) -> String {
        guard let canonical = normalise(code) else { return code }
        var out: [UInt8] = []
        out.reserveCapacity(length + 5)
        for (i, c) in canonical.utf8.enumerated() {
            if i > 0 && i % 5 == 0 { out.append(UInt8(ascii: "-")) }
            out.append(c)
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - Internal: packing

    /// The 32 symbols, by value.
    static let symbols: StaticString = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

    /// ASCII → entry: `"0" + value` for a symbol (and the look-alikes i, l → 1, o → 0, either
    /// case), "." for an ignored separator (hyphen, space, tab), "!" for anything else.
    /// 128 entries in rows of 32; the test `decodingTableMatchesSymbols` checks it against `symbols`.
    static let decodingTable: StaticString = // swiftlint:disable:next line_length
        "!!!!!!!!!.!!!!!!!!!!!!!!!!!!!!!!.!!!!!!!!!!!!.!!0123456789!!!!!!!:;<=>?@A1BC1DE0FGHIJ!KLMNO!!!!!!:;<=>?@A1BC1DE0FGHIJ!KLMNO!!!!!"

    /// The text form of (key index, ciphertext block): digits are the 140-bit big-endian number
    /// index(10) ‖ block(128) ‖ 00, then the check digit. `index` must be ≤ 1023.
    static func encode(index: UInt16, block: UInt128) -> String {
        String(unsafeUninitializedCapacity: length) { out in
            let symbol = symbols.utf8Start
            var sum: UInt8 = 0
            @inline(__always) func put(_ i: Int, _ digit: UInt8) {
                out[i] = symbol[Int(digit)]
                sum = timesAlpha(sum) ^ digit
            }
            put(0, UInt8(truncatingIfNeeded: index >> 5) & 31)
            put(1, UInt8(truncatingIfNeeded: index) & 31)
            for i in 0..<25 {
                put(2 + i, UInt8(truncatingIfNeeded: block >> UInt128(123 - 5 * i)) & 31)
            }
            put(27, (UInt8(truncatingIfNeeded: block) & 7) << 2)   // 3 data bits + 2 reserved zero bits
            out[28] = symbol[Int(timesAlpha(sum))]
            return length
        }
    }

    /// (key index, ciphertext block) from any accepted spelling, or nil when malformed.
    static func decode(_ text: String) -> (index: UInt16, block: UInt128)? {
        let utf8 = text.utf8
        guard utf8.count <= maximumInputLength else { return nil }
        switch utf8.withContiguousStorageIfAvailable(decodeASCII) {
        case .fields(let index, let block)?: return (index, block)
        case .malformed?: return nil
        case .unicode?, nil:
            var reader = Reader()
            guard readUnicode(text, into: &reader) else { return nil }
            return reader.fields()
        }
    }

    enum ASCIIDecoding {
        case fields(UInt16, UInt128)
        case malformed
        /// A byte above 0x7F: the Unicode path decides.
        case unicode
    }

    /// The common case, ASCII text, in one tight pass: the digits go into three 64-bit words
    /// (a 128-bit shift per digit and a switch on the position cost 35 instructions a
    /// character; the Unicode path still uses `Reader`). `DecodeEquivalenceTests` checks both
    /// paths agree.
    static func decodeASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> ASCIIDecoding {
        let table = decodingTable.utf8Start
        var count = 0
        var sum: UInt8 = 0
        var high: UInt64 = 0, middle: UInt64 = 0, low: UInt64 = 0
        for byte in bytes {
            guard byte < 0x80 else { return .unicode }
            let entry = table[Int(byte)]
            if entry == UInt8(ascii: ".") { continue }
            guard entry >= UInt8(ascii: "0"), count < length else { return .malformed }
            let digit = entry &- UInt8(ascii: "0")
            sum = timesAlpha(sum) ^ digit
            if count < 12 {
                high = high << 5 | UInt64(digit)
            } else if count < 24 {
                middle = middle << 5 | UInt64(digit)
            } else {
                low = low << 5 | UInt64(digit)   // the last 4 data digits and the check digit
            }
            count += 1
        }
        low >>= 5                                // the check digit counted in `sum` only
        guard count == length, sum == 0, low & 3 == 0 else { return .malformed }
        let index = UInt16(truncatingIfNeeded: high >> 50)
        let block = UInt128(high & (1 << 50 - 1)) << 78 | (UInt128(middle) << 20 | UInt128(low)) >> 2
        return .fields(index, block)
    }

    /// Accumulates digits into the fields and the check sum in one pass (the Unicode path).
    struct Reader {
        var count = 0
        var sum: UInt8 = 0
        var index: UInt16 = 0
        var block: UInt128 = 0
        var reserved: UInt8 = 0

        /// Adds one ASCII character; false if it is neither a symbol nor a separator, or if it
        /// is one symbol too many.
        @inline(__always)
        mutating func add(ascii b: UInt8) -> Bool {
            let entry = decodingTable.utf8Start[Int(b & 0x7F)]
            if entry == UInt8(ascii: ".") { return true }
            guard entry >= UInt8(ascii: "0"), count < LinkCodeFormat.length else { return false }
            let digit = entry &- UInt8(ascii: "0")
            sum = timesAlpha(sum) ^ digit
            switch count {
            case 0..<2: index = index << 5 | UInt16(digit)
            case 2..<27: block = block << 5 | UInt128(digit)
            case 27:
                block = block << 3 | UInt128(digit >> 2)
                reserved = digit & 3
            default: break                               // the check digit: only in `sum`
            }
            count += 1
            return true
        }

        /// The fields if there were 29 symbols, the weighted sum is zero (check digit right)
        /// and the reserved bits are zero.
        func fields() -> (index: UInt16, block: UInt128)? {
            guard count == LinkCodeFormat.length, sum == 0, reserved == 0 else { return nil }
            return (index, block)
        }
    }

    // MARK: - Internal: check character

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

    /// The Unicode path: full-width letters and digits, Japanese separators.
    private static func readUnicode(_ text: String, into reader: inout Reader) -> Bool {
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
            guard value < 0x80, reader.add(ascii: UInt8(value)) else { return false }
        }
        return true
    }
}
