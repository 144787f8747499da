import CPKCS11

/// How the token protects an application's private key, read back through PKCS#11: the evidence
/// that the key was made on the token and cannot leave it.
public struct KeyProtection: Equatable, Sendable, Codable {
    public var sensitive: Bool
    public var extractable: Bool
    public var alwaysSensitive: Bool
    public var neverExtractable: Bool
    /// Whether C_GetAttributeValue(CKA_PRIVATE_EXPONENT) returned the exponent (it must not).
    public var privateExponentReadable: Bool
}

extension CardToken {
    public func keyProtection(_ app: CardApplication, pin: String) throws(CardError) -> KeyProtection {
        try withLogin(app, pin: pin) { session throws(CardError) in
            guard let key = try find(session, LC_CKO_PRIVATE_KEY, app) else { throw .keyNotFound(app) }
            func flag(_ type: UInt) throws(CardError) -> Bool { try attribute(session, key, type).first == 1 }
            // A sensitive key answers CKR_ATTRIBUTE_SENSITIVE; any other failure is a real error.
            var length = 0
            let rv = lc_p11_get_attribute(module.raw, session, key, LC_CKA_PRIVATE_EXPONENT, nil, &length)
            if rv != LC_CKR_ATTRIBUTE_SENSITIVE { try check(rv, "C_GetAttributeValue") }
            let exponentReadable = rv == LC_CKR_OK
            return KeyProtection(
                sensitive: try flag(LC_CKA_SENSITIVE), extractable: try flag(LC_CKA_EXTRACTABLE),
                alwaysSensitive: try flag(LC_CKA_ALWAYS_SENSITIVE), neverExtractable: try flag(LC_CKA_NEVER_EXTRACTABLE),
                privateExponentReadable: exponentReadable)
        }
    }
}
