/// The individual number (個人番号, "My Number"): 11 digits and a check digit.
///
/// Check digit (個人番号の指定等に関する技術的基準を定める省令 第5条): with Pn the n-th digit counted
/// from the right of the 11-digit body (n = 1...11) and Qn = n + 1 for n ≤ 6, n − 5 for n ≥ 7,
/// r = Σ Pn·Qn mod 11; the check digit is 0 when r ≤ 1, else 11 − r.
public enum MyNumber {
    /// The check digit for an 11-digit body, or nil if `body` is not 11 ASCII digits.
    public static func checkDigit(forBody body: some StringProtocol) -> Int? {
        let digits = body.utf8.map { Int($0) - 48 }
        guard digits.count == 11, digits.allSatisfy({ (0...9).contains($0) }) else { return nil }
        return checkDigit(digits)
    }

    static func checkDigit(_ digits: [Int]) -> Int {
        var sum = 0
        for n in 1...11 {
            let p = digits[11 - n]
            let q = n <= 6 ? n + 1 : n - 5
            sum += p * q
        }
        let r = sum % 11
        return r <= 1 ? 0 : 11 - r
    }

    /// Why `number` is not a valid My Number, or nil if it is (12 ASCII digits, good check digit).
    public static func problem(_ number: String) -> String? {
        let digits = number.utf8.map { Int($0) - 48 }
        guard digits.count == 12, digits.allSatisfy({ (0...9).contains($0) }) else { return "must be 12 digits" }
        guard checkDigit(Array(digits.prefix(11))) == digits[11] else { return "check digit mismatch" }
        return nil
    }

    public static func isValid(_ number: String) -> Bool { problem(number) == nil }

    /// The full 12-digit number for an 11-digit body value (0 ..< 10^11).
    static func make(body value: UInt64) -> String {
        let body = zeroPadded(value, width: 11)
        let check = checkDigit(body.utf8.map { Int($0) - 48 })
        return body + String(check)
    }
}

/// The resident code (住民票コード): 11 digits, unique per resident, never reused.
///
/// The real code's last digit is a check digit whose algorithm this project does not model;
/// here any 11 ASCII digits are a well-formed resident code.
public enum ResidentCode {
    public static func problem(_ code: String) -> String? {
        guard code.utf8.count == 11, code.utf8.allSatisfy({ (48...57).contains($0) }) else { return "must be 11 digits" }
        return nil
    }

    public static func isValid(_ code: String) -> Bool { problem(code) == nil }
}

func zeroPadded(_ value: UInt64, width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}
