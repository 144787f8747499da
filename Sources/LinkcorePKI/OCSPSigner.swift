import COpenSSL
import Foundation

/// The delegated OCSP responder certificate (RFC 6960 §4.2.2.2): the card CA certifies a separate
/// signing key for the responder, so the CA key itself never has to be online. Additive: the
/// network PKI does not use it.
extension CertificateAuthority {
    /// A leaf with a fresh EC P-256 key: keyUsage critical digitalSignature, extendedKeyUsage
    /// id-kp-OCSPSigning (the delegation), and id-pkix-ocsp-nocheck (§4.2.2.2.1: clients do not
    /// ask for the responder certificate's own status, which is why its validity is kept short).
    public func issueOCSPSigner(commonName: String, notBefore: Date? = nil, validDays: Int) throws -> PEMCertificate {
        try Self.checkText(commonName, what: "OCSP signer common name")
        let validity = try Self.validityWindow(notBefore: notBefore ?? now(), validDays: validDays)
        ERR_clear_error()
        let ca = try Certificate(pem: certificate.certificatePEM)
        let caKey = try PrivateKey(pem: certificate.privateKeyPEM)
        let caNotAfter = try ca.validity().notAfter
        if validity.notAfter > caNotAfter {
            throw PKIError.validityExceedsCA(notAfter: validity.notAfter, caNotAfter: caNotAfter)
        }
        let key = try PrivateKey.generateP256()
        let cert = try CertificateBuilder.build(
            subject: [("CN", commonName)], publicKey: key.pointer, issuer: ca,
            notBefore: validity.notBefore, notAfter: validity.notAfter,
            extensions: [
                (NID_basic_constraints, "critical,CA:FALSE"),
                (NID_key_usage, "critical,digitalSignature"),
                (NID_ext_key_usage, "OCSPSigning"),
                // The extension's value is NULL; OpenSSL's config syntax wants some text here.
                (NID_id_pkix_OCSP_noCheck, "ignored"),
                (NID_subject_key_identifier, "hash"),
                (NID_authority_key_identifier, "keyid:always"),
            ],
            subjectAltNames: [], signingKey: caKey.pointer)
        return PEMCertificate(certificatePEM: try cert.pem(), privateKeyPEM: try key.pem(), serialHex: try cert.serialHex())
    }
}
