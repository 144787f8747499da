import CPKCS11

/// Personalisation (applied → personalised) is the card authority's step: `linkcore-jpki issue`
/// makes the key pairs on the card's tokens, then certifies them and writes the certificates.
extension CardToken {
    /// Generates the key pair of each application that has no private key yet and keeps the ones
    /// already there (a card personalised earlier, e.g. by the `linkcore-card personalise`
    /// development shortcut, or an issuance that stopped after the keys were made). Both PINs are
    /// checked on the token before any key is made, so a wrong second PIN never leaves one
    /// application personalised and the other not. Returns the applications whose key pair was
    /// made now (empty: the card already had both).
    @discardableResult
    public func generateMissingKeyPairs(signaturePIN: String, authenticationPIN: String) throws(CardError) -> [CardApplication] {
        let pins: [(CardApplication, String)] = [(.signature, signaturePIN), (.authentication, authenticationPIN)]
        var missing: [(CardApplication, String)] = []
        for (app, pin) in pins {
            let present = try withLogin(app, pin: pin) { session throws(CardError) in
                try find(session, LC_CKO_PRIVATE_KEY, app) != nil
            }
            if !present { missing.append((app, pin)) }
        }
        for (app, pin) in missing {
            try withLogin(app, pin: pin) { session throws(CardError) in
                // A public key or certificate without its private key is a leftover (nothing can
                // sign for it): removed, so the application ends with exactly one key pair.
                for cls in [LC_CKO_CERTIFICATE, LC_CKO_PUBLIC_KEY] {
                    while let object = try find(session, cls, app) {
                        try check(lc_p11_destroy_object(module.raw, session, object), "C_DestroyObject")
                    }
                }
                _ = try generate(session, app)
            }
        }
        return missing.map(\.0)
    }
}
