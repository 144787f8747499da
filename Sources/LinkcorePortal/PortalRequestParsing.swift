import Foundation

/// The portal's request bodies as it reads them, without a server: its requests are HTML forms
/// (application/x-www-form-urlencoded, also the OIDC token endpoint's), so the parsers are the
/// form reader, the token endpoint's Basic client credentials, and what the pages then decode from
/// the fields (the card login's hex and PEM, PKCE's verifier and challenge, a redirect URI's
/// origin). The entry of the fuzzing target `FuzzPortalForms` (Tests/Fuzz) and of its regression tests.
public enum PortalRequestParsing {
    /// What was read; the counts let a test see that the fields were decoded, not what they hold.
    public struct Reading: Sendable, Equatable {
        public var fields = 0
        public var decodedHex = 0
        public var decodedPEM = 0
        public var credentials = false
        public var origin: String?
    }

    /// `authorization` is the Authorization header (nil when absent), `body` the form body.
    public static func read(authorization: String?, body: String) -> Reading {
        let form = PortalSite.parseForm(body)
        var reading = Reading(fields: form.count)
        reading.credentials = authorization.flatMap(PortalSite.basicCredentials) != nil
        for name in ["challenge_hex", "signature_hex", "consent_hex", "consent_signature_hex"] {
            if let value = form[name], CardLogin.bytes(hex: value) != nil { reading.decodedHex += 1 }
        }
        for name in ["certificate_pem", "consent_certificate_pem"] {
            if let value = form[name], CardLogin.der(pem: value) != nil { reading.decodedPEM += 1 }
        }
        if let verifier = form["code_verifier"] { _ = OIDCProvider.isVerifier(verifier) }
        if let challenge = form["code_challenge"] { _ = OIDCProvider.isChallenge(challenge) }
        if let state = form["state"] { _ = Base64URL.decode(state) }
        if let uri = form["redirect_uri"] { reading.origin = PortalSite.origin(of: uri) }
        return reading
    }
}
