import CPKCS11

/// The two PIN-protected applications of a number card.
///
/// A real JPKI card holds both on one chip, each behind its own PIN. A PKCS#11 token has one user
/// PIN, so a card here is two tokens: `<card>-SIG` and `<card>-AUTH` (SoftHSM2 slots in tests and
/// the demo). Each carries one key pair and, once issued, one certificate.
public enum CardApplication: String, Sendable, CaseIterable, Codable {
    /// 署名用: signs documents and link requests; its certificate carries the four facts.
    case signature = "sign"
    /// 利用者証明用: signs login challenges; its certificate carries none of the facts.
    case authentication = "auth"

    public var displayName: String { self == .signature ? "signature" : "user authentication" }

    /// The token label of this application on card `card`.
    public func tokenLabel(card: String) -> String { card + (self == .signature ? "-SIG" : "-AUTH") }

    /// Label and id shared by the key pair and the certificate (CKA_LABEL / CKA_ID), as
    /// PKCS#11 tools expect to pair a certificate with its key.
    var objectLabel: String { self == .signature ? "JPKI signature" : "JPKI user authentication" }
    var objectID: [UInt8] { self == .signature ? [0x01] : [0x02] }

    /// JPKI's rules: a signature PIN of 6-16 alphanumerics, a 4-digit user authentication PIN.
    public func validate(pin: String) throws(CardError) {
        switch self {
        case .signature:
            let ok = (6...16).contains(pin.count) && pin.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
            if !ok { throw .invalidPINFormat(self, rule: "6 to 16 letters or digits") }
        case .authentication:
            let ok = pin.count == 4 && pin.allSatisfy { $0.isASCII && $0.isNumber }
            if !ok { throw .invalidPINFormat(self, rule: "4 digits") }
        }
    }
}

/// The card's key algorithm: one setting, RSA-2048 with SHA-256 as JPKI uses.
public enum CardAlgorithm: String, Sendable, CaseIterable, Codable {
    case rsa2048SHA256 = "rsa2048-sha256"

    var modulusBits: UInt { 2048 }
    /// The PKCS#11 mechanism that hashes and signs on the token (PKCS#1 v1.5).
    var signMechanism: UInt { LC_CKM_SHA256_RSA_PKCS }
}

enum LCFlags {
    static let initialized = LC_CKF_USER_PIN_INITIALIZED
    static let countLow = LC_CKF_USER_PIN_COUNT_LOW
    static let finalTry = LC_CKF_USER_PIN_FINAL_TRY
    static let locked = LC_CKF_USER_PIN_LOCKED
    static let toBeChanged = LC_CKF_USER_PIN_TO_BE_CHANGED
}
