import CPKCS11

/// A number card reached through PKCS#11: its two applications, each a token with one key pair
/// that never leaves it. Every operation opens its own session and logs out at the end, so no
/// PIN stays logged in between commands (as a card client must behave).
public final class CardToken: @unchecked Sendable {
    public let module: PKCS11Module
    public let card: String
    public let algorithm: CardAlgorithm

    /// Opens card `card` (tokens `<card>-SIG` and `<card>-AUTH`); fails if either is missing.
    public init(module: PKCS11Module, card: String, algorithm: CardAlgorithm = .rsa2048SHA256) throws(CardError) {
        self.module = module
        self.card = card
        self.algorithm = algorithm
        for app in CardApplication.allCases { _ = try module.slot(label: app.tokenLabel(card: card)) }
    }

    // MARK: status

    public struct Status: Equatable, Sendable, Codable {
        public var application: CardApplication
        public var tokenLabel: String
        public var serial: String
        public var pin: PINState
        public var hasKeyPair: Bool
        public var hasCertificate: Bool
    }

    public func status(_ app: CardApplication) throws(CardError) -> Status {
        let slot = try module.slot(label: app.tokenLabel(card: card))
        let info = try module.tokenInfo(slot: slot)
        return try withSession(app) { session throws(CardError) in
            Status(
                application: app, tokenLabel: string(fromCTuple: info.label), serial: string(fromCTuple: info.serial),
                pin: PINState(flags: info.flags),
                hasKeyPair: try find(session, LC_CKO_PUBLIC_KEY, app) != nil,
                hasCertificate: try find(session, LC_CKO_CERTIFICATE, app) != nil)
        }
    }

    func pinState(_ app: CardApplication) throws(CardError) -> PINState {
        let slot = try module.slot(label: app.tokenLabel(card: card))
        return PINState(flags: try module.tokenInfo(slot: slot).flags)
    }

    // MARK: keys

    /// Generates the application's key pair on the token (personalisation). Refuses a second one:
    /// a new key is a renewal, which is the authority's decision.
    @discardableResult
    public func generateKeyPair(_ app: CardApplication, pin: String) throws(CardError) -> CardPublicKey {
        try withLogin(app, pin: pin) { session throws(CardError) in
            if try find(session, LC_CKO_PRIVATE_KEY, app) != nil { throw .keyAlreadyPresent(app) }
            return try generate(session, app)
        }
    }

    /// C_GenerateKeyPair in a logged-in session: the card's one key algorithm (`algorithm`), the
    /// private key sensitive, never extractable and sign-only (the CPKCS11 template). Every path
    /// that puts a key on a card (personalisation by either command, renewal) comes through here.
    func generate(_ session: UInt, _ app: CardApplication) throws(CardError) -> CardPublicKey {
        var pub: UInt = 0, priv: UInt = 0
        let id = app.objectID
        try check(lc_p11_generate_rsa(module.raw, session, algorithm.modulusBits, app.objectLabel, id, id.count, &pub, &priv),
                  "C_GenerateKeyPair")
        return try publicKey(session, object: pub)
    }

    /// The public half, readable without a PIN (it is a public object).
    public func publicKey(_ app: CardApplication) throws(CardError) -> CardPublicKey {
        try withSession(app) { session throws(CardError) in
            guard let object = try find(session, LC_CKO_PUBLIC_KEY, app) else { throw .keyNotFound(app) }
            return try publicKey(session, object: object)
        }
    }

    /// Hashes and signs `data` on the token (RSA PKCS#1 v1.5 with SHA-256 by default) after the PIN.
    public func sign(_ app: CardApplication, data: [UInt8], pin: String) throws(CardError) -> [UInt8] {
        try withLogin(app, pin: pin) { session throws(CardError) in
            guard let key = try find(session, LC_CKO_PRIVATE_KEY, app) else { throw .keyNotFound(app) }
            var signature = [UInt8](repeating: 0, count: 1024)
            var length = signature.count
            try check(lc_p11_sign(module.raw, session, key, algorithm.signMechanism, data, data.count, &signature, &length), "C_Sign")
            return Array(signature.prefix(length))
        }
    }

    // MARK: certificates

    /// Writes the application's certificate (DER) to the token, replacing an older one. The
    /// token must already hold the key pair the certificate is for.
    public func storeCertificate(_ app: CardApplication, der: [UInt8], pin: String) throws(CardError) {
        guard let subjectDER = DER.certificateSubject(der) else { throw .invalidCertificate }
        try withLogin(app, pin: pin) { session throws(CardError) in
            guard try find(session, LC_CKO_PUBLIC_KEY, app) != nil else { throw .keyNotFound(app) }
            if let old = try find(session, LC_CKO_CERTIFICATE, app) {
                try check(lc_p11_destroy_object(module.raw, session, old), "C_DestroyObject")
            }
            var object: UInt = 0
            let id = app.objectID
            try check(lc_p11_store_certificate(module.raw, session, app.objectLabel, id, id.count, subjectDER, subjectDER.count,
                                               der, der.count, &object), "C_CreateObject")
        }
    }

    /// The application's certificate (DER), or nil before issuance. Public: no PIN.
    public func certificate(_ app: CardApplication) throws(CardError) -> [UInt8]? {
        try withSession(app) { session throws(CardError) in
            guard let object = try find(session, LC_CKO_CERTIFICATE, app) else { return nil }
            return try attribute(session, object, LC_CKA_VALUE)
        }
    }

    // MARK: PIN

    /// C_SetPIN: the holder changes a PIN knowing the old one. The new PIN must follow the rule.
    public func changePIN(_ app: CardApplication, old: String, new: String) throws(CardError) {
        try app.validate(pin: new)
        try withLogin(app, pin: old) { session throws(CardError) in
            try check(lc_p11_set_pin(module.raw, session, old, old.utf8.count, new, new.utf8.count), "C_SetPIN")
        }
    }

    // MARK: sessions

    func withSession<T>(_ app: CardApplication, _ body: (UInt) throws(CardError) -> T) throws(CardError) -> T {
        let slot = try module.slot(label: app.tokenLabel(card: card))
        var session: UInt = 0
        try check(lc_p11_open_session(module.raw, slot, &session), "C_OpenSession")
        defer { _ = lc_p11_close_session(module.raw, session) }
        return try body(session)
    }

    func withLogin<T>(_ app: CardApplication, pin: String, _ body: (UInt) throws(CardError) -> T) throws(CardError) -> T {
        try app.validate(pin: pin)
        return try withSession(app) { session throws(CardError) in
            let rv = lc_p11_login(module.raw, session, 1, pin, pin.utf8.count)
            switch rv {
            case LC_CKR_OK, LC_CKR_USER_ALREADY_LOGGED_IN: break
            case LC_CKR_PIN_INCORRECT: throw .wrongPIN(app, state: try pinState(app))
            case LC_CKR_PIN_LOCKED: throw .pinLocked(app)
            default: try check(rv, "C_Login")
            }
            defer { _ = lc_p11_logout(module.raw, session) }
            return try body(session)
        }
    }

    func find(_ session: UInt, _ cls: UInt, _ app: CardApplication) throws(CardError) -> UInt? {
        var object: UInt = 0
        var found: Int32 = 0
        let id = app.objectID
        try check(lc_p11_find_object(module.raw, session, cls, app.objectLabel, id, id.count, &object, &found), "C_FindObjects")
        return found != 0 ? object : nil
    }

    func attribute(_ session: UInt, _ object: UInt, _ type: UInt) throws(CardError) -> [UInt8] {
        var length = 0
        try check(lc_p11_get_attribute(module.raw, session, object, type, nil, &length), "C_GetAttributeValue")
        var value = [UInt8](repeating: 0, count: length)
        try check(lc_p11_get_attribute(module.raw, session, object, type, &value, &length), "C_GetAttributeValue")
        return Array(value.prefix(length))
    }

    func publicKey(_ session: UInt, object: UInt) throws(CardError) -> CardPublicKey {
        CardPublicKey(modulus: try attribute(session, object, LC_CKA_MODULUS),
                      exponent: try attribute(session, object, LC_CKA_PUBLIC_EXPONENT))
    }
}

extension CardToken {
    /// C_InitPIN under the security officer: how the counter sets the holder's PIN at activation
    /// and resets a locked one. The SO PIN is the authority's, never the holder's.
    public func resetPIN(_ app: CardApplication, soPIN: String, newPIN: String) throws(CardError) {
        try app.validate(pin: newPIN)
        try withSession(app) { session throws(CardError) in
            let rv = lc_p11_login(module.raw, session, 0, soPIN, soPIN.utf8.count)
            switch rv {
            case LC_CKR_OK: break
            case LC_CKR_PIN_INCORRECT, LC_CKR_PIN_LOCKED: throw .wrongSOPIN(app)
            default: try check(rv, "C_Login(SO)")
            }
            defer { _ = lc_p11_logout(module.raw, session) }
            try check(lc_p11_init_pin(module.raw, session, newPIN, newPIN.utf8.count), "C_InitPIN")
        }
    }
}
