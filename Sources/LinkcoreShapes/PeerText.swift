/// A string a peer chose (a claimed organisation code, a software name, a provider's message),
/// made safe to write to a log or echo in an error: cut to a bounded length and with every
/// character that could forge or hide a log line escaped.
///
/// Why: such strings arrive before admission and at any length up to a frame; logged as they
/// are, one connection wrote a megabyte of log and a forged line through an embedded newline.
public enum PeerText {
    /// At most `max` characters of `text` (Unicode scalars), then `…(+N bytes)` when longer.
    /// Escaped: backslash, C0 and C1 controls, DEL, and the Unicode line, paragraph and
    /// bidirectional-override characters (`\n`, `\r`, `\t`, else `\u{XXXX}`).
    public static func safe(_ text: String, max: Int = 64) -> String {
        var out = ""
        var taken = 0
        var bytes = 0
        for scalar in text.unicodeScalars {
            guard taken < max else { break }
            taken += 1
            bytes += String(scalar).utf8.count
            out += escaped(scalar)
        }
        let rest = text.utf8.count - bytes
        if rest > 0 { out += "…(+\(rest) bytes)" }
        return out
    }

    private static func escaped(_ scalar: Unicode.Scalar) -> String {
        switch scalar.value {
        case 0x5C: return "\\\\"
        case 0x0A: return "\\n"
        case 0x0D: return "\\r"
        case 0x09: return "\\t"
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069, 0x200E, 0x200F, 0xFEFF:
            return "\\u{" + String(scalar.value, radix: 16) + "}"
        default:
            return String(scalar)
        }
    }
}
