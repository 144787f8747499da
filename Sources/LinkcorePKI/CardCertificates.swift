import COpenSSL
import Foundation

/// Certificates for keys that live elsewhere: the number card's key pairs, generated on the token,
/// reach the authority only as a SubjectPublicKeyInfo (issue 14). Additive: the network PKI above
/// does not use this.
extension CertificateAuthority {
    /// Issues a leaf for `publicKeyDER` (DER SubjectPublicKeyInfo) with `subject` entries in order;
    /// a field is an OpenSSL short name ("CN", "C", "street") or a dotted OID. keyUsage is
    /// digitalSignature, plus nonRepudiation for a signature certificate. No EKU: the card's
    /// certificates are not TLS certificates.
    public func issueForPublicKey(publicKeyDER: [UInt8], subject: [(String, String)], nonRepudiation: Bool,
                                  notBefore: Date? = nil, validDays: Int) throws -> PEMCertificate {
        let validity = try Self.validityWindow(notBefore: notBefore ?? now(), validDays: validDays)
        return try issueForPublicKey(publicKeyDER: publicKeyDER, subject: subject, nonRepudiation: nonRepudiation,
                                     notBefore: validity.notBefore, notAfter: validity.notAfter)
    }

    /// As above with an explicit end: a card's certificates never outlive the card, so a renewal
    /// late in the card's life gets a certificate shorter than the usual five years.
    public func issueForPublicKey(publicKeyDER: [UInt8], subject: [(String, String)], nonRepudiation: Bool,
                                  notBefore: Date, notAfter: Date) throws -> PEMCertificate {
        for (field, value) in subject { try Self.checkText(value, what: "subject \(field)") }
        guard notAfter > notBefore else {
            throw PKIError.invalidArgument("notAfter (\(PKIFormat.date(notAfter))) must be after notBefore (\(PKIFormat.date(notBefore)))")
        }
        let validity = (notBefore: notBefore, notAfter: notAfter)
        ERR_clear_error()
        let ca = try Certificate(pem: certificate.certificatePEM)
        let caKey = try PrivateKey(pem: certificate.privateKeyPEM)
        let caNotAfter = try ca.validity().notAfter
        if validity.notAfter > caNotAfter {
            throw PKIError.validityExceedsCA(notAfter: validity.notAfter, caNotAfter: caNotAfter)
        }
        let key = try publicKeyDER.withUnsafeBufferPointer { buffer throws -> PrivateKey in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let key = d2i_PUBKEY(nil, &cursor, buffer.count) else { throw OpenSSL.failure("read the card's public key") }
            return PrivateKey(taking: key)  // owns (and frees) any EVP_PKEY, public-only here
        }
        let cert = try CertificateBuilder.build(
            subject: subject, publicKey: key.pointer, issuer: ca,
            notBefore: validity.notBefore, notAfter: validity.notAfter,
            extensions: [
                (NID_basic_constraints, "critical,CA:FALSE"),
                (NID_key_usage, nonRepudiation ? "critical,digitalSignature,nonRepudiation" : "critical,digitalSignature"),
                (NID_subject_key_identifier, "hash"),
                (NID_authority_key_identifier, "keyid:always"),
            ],
            subjectAltNames: [], signingKey: caKey.pointer)
        return PEMCertificate(certificatePEM: try cert.pem(), privateKeyPEM: "", serialHex: try cert.serialHex())
    }
}
