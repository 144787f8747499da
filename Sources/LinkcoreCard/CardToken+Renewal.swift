import CPKCS11

/// Renewal (更新) at the counter: new key pairs on both applications of the card.
///
/// The old key objects are **destroyed and replaced** under the same `CKA_LABEL`/`CKA_ID`, not
/// kept under new ids:
/// - the card holds one key pair per application, as a JPKI card does; every reader of the card
///   (this client, OpenSC, pkcs11-tool, browsers pairing certificate and key) finds an
///   application's key and certificate by that fixed label and id, and would otherwise have to
///   choose among generations;
/// - the old private key has no legitimate use once its certificate is superseded, and keeping it
///   would only widen what a stolen card and PIN can sign;
/// - the old generation's certificates stay with the authority (its certificate history), which
///   is where a verifier asks for the current one.
extension CardToken {
    /// Checks both PINs first (so a wrong second PIN never leaves one application renewed and
    /// the other not), then replaces each application's key pair and certificate with a new key
    /// pair generated on the token. Returns the new public keys (signature, authentication).
    public func replaceKeyPairs(signaturePIN: String, authenticationPIN: String) throws(CardError)
        -> (signature: CardPublicKey, authentication: CardPublicKey) {
        let pins: [(CardApplication, String)] = [(.signature, signaturePIN), (.authentication, authenticationPIN)]
        for (app, pin) in pins {
            try withLogin(app, pin: pin) { session throws(CardError) in
                if try find(session, LC_CKO_PRIVATE_KEY, app) == nil { throw .keyNotFound(app) }
            }
        }
        let signature = try replaceKeyPair(.signature, pin: signaturePIN)
        let authentication = try replaceKeyPair(.authentication, pin: authenticationPIN)
        return (signature, authentication)
    }

    func replaceKeyPair(_ app: CardApplication, pin: String) throws(CardError) -> CardPublicKey {
        try withLogin(app, pin: pin) { session throws(CardError) in
            for cls in [LC_CKO_CERTIFICATE, LC_CKO_PRIVATE_KEY, LC_CKO_PUBLIC_KEY] {
                while let object = try find(session, cls, app) {
                    try check(lc_p11_destroy_object(module.raw, session, object), "C_DestroyObject")
                }
            }
            return try generate(session, app)
        }
    }
}
