/// Everything the card can refuse, as values a caller can switch on (and a CLI can print with a
/// stable code word).
public enum CardError: Error, Equatable, Sendable, CustomStringConvertible {
    case moduleLoad(String)
    case tokenNotFound(String)
    /// The PIN breaks the application's format rule (checked before the token sees it, so a typo
    /// in the format never costs a retry).
    case invalidPINFormat(CardApplication, rule: String)
    /// The token refused the PIN; `state` is the token's PIN state after the refusal.
    case wrongPIN(CardApplication, state: PINState)
    case pinLocked(CardApplication)
    /// The security officer's PIN was refused (the authority's, at activation or PIN reset).
    case wrongSOPIN(CardApplication)
    case keyNotFound(CardApplication)
    case keyAlreadyPresent(CardApplication)
    /// The bytes given as a certificate are not a DER X.509 certificate.
    case invalidCertificate
    case pkcs11(function: String, code: UInt)

    /// A stable word for scripts and tests.
    public var code: String {
        switch self {
        case .moduleLoad: "module-load"
        case .tokenNotFound: "token-not-found"
        case .invalidPINFormat: "invalid-pin-format"
        case .wrongPIN: "wrong-pin"
        case .pinLocked: "pin-locked"
        case .wrongSOPIN: "wrong-so-pin"
        case .keyNotFound: "key-not-found"
        case .keyAlreadyPresent: "key-already-present"
        case .invalidCertificate: "invalid-certificate"
        case .pkcs11: "pkcs11"
        }
    }

    public var description: String {
        switch self {
        case .moduleLoad(let message): "cannot load the PKCS#11 module: \(message)"
        case .tokenNotFound(let label): "no token labelled \(label)"
        case .invalidPINFormat(let app, let rule): "the \(app.displayName) PIN must be \(rule)"
        case .wrongPIN(let app, let state): "wrong \(app.displayName) PIN (\(state.summary))"
        case .pinLocked(let app): "the \(app.displayName) PIN is locked"
        case .wrongSOPIN(let app): "wrong security officer PIN for the \(app.displayName) application"
        case .keyNotFound(let app): "the \(app.displayName) application has no key pair"
        case .keyAlreadyPresent(let app): "the \(app.displayName) application already has a key pair"
        case .invalidCertificate: "not a DER X.509 certificate"
        case .pkcs11(let function, let code): "\(function) failed: CK_RV 0x\(String(code, radix: 16))"
        }
    }
}

/// The PIN flags of a token (CK_TOKEN_INFO.flags). What they mean after wrong PINs depends on the
/// token: see docs/card.md ("Wrong PINs").
public struct PINState: Equatable, Sendable, Codable {
    public var initialized: Bool
    public var countLow: Bool
    public var finalTry: Bool
    public var locked: Bool
    public var toBeChanged: Bool

    init(flags: UInt) {
        initialized = flags & LCFlags.initialized != 0
        countLow = flags & LCFlags.countLow != 0
        finalTry = flags & LCFlags.finalTry != 0
        locked = flags & LCFlags.locked != 0
        toBeChanged = flags & LCFlags.toBeChanged != 0
    }

    public var summary: String {
        locked ? "locked" : finalTry ? "final try" : countLow ? "retries low" : "not locked"
    }
}
