import COpenSSL
import Foundation

/// Certificate signing requests, as a company makes one on its own side: the private key never
/// leaves it; the CA binds the organisation code when it signs.
public enum CSR {
    /// A fresh EC P-256 key and a SHA-256-signed PKCS#10 request with subject CN = commonName.
    public static func create(commonName: String) throws -> (csrPEM: String, privateKeyPEM: String) {
        try CertificateAuthority.checkText(commonName, what: "CSR common name")
        ERR_clear_error()
        let key = try PrivateKey.generateP256()
        guard let request = X509_REQ_new() else { throw OpenSSL.failure("allocate a CSR") }
        defer { X509_REQ_free(request) }
        try OpenSSL.check(X509_REQ_set_version(request, Int(X509_REQ_VERSION_1)), "set the CSR version")
        guard let name = X509_NAME_new() else { throw OpenSSL.failure("allocate a name") }
        defer { X509_NAME_free(name) }
        try OpenSSL.check(lc_pki_name_add_utf8(name, "CN", commonName), "add CN=\(commonName) to the CSR subject")
        try OpenSSL.check(X509_REQ_set_subject_name(request, name), "set the CSR subject")
        try OpenSSL.check(X509_REQ_set_pubkey(request, key.pointer), "set the CSR public key")
        if X509_REQ_sign(request, key.pointer, EVP_sha256()) <= 0 { throw OpenSSL.failure("sign the CSR") }
        let out = try MemoryBIO()
        try OpenSSL.check(PEM_write_bio_X509_REQ(out.pointer, request), "encode the CSR as PEM")
        return (out.string, try key.pem())
    }
}
