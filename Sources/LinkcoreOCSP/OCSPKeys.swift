import COpenSSL
import Foundation

/// What `OCSPResponder` refuses to start with: the responder would otherwise sign answers no
/// client accepts.
public enum OCSPSetupError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidPEM(String)
    /// The signer certificate is not a delegation from the card CA (RFC 6960 §4.2.2.2).
    case notDelegated(String)
    case signerNotValid(notAfter: Date)

    public var description: String {
        switch self {
        case .invalidPEM(let what): "not a PEM \(what)"
        case .notDelegated(let why): "not a delegated OCSP signer: \(why)"
        case .signerNotValid(let notAfter): "the OCSP signer certificate is not valid now (notAfter \(notAfter))"
        }
    }
}

/// The CA certificate, the signer certificate and its key, parsed once. OpenSSL's X509 and
/// EVP_PKEY objects are only read after loading (each signature makes its own EVP contexts), which
/// OpenSSL 3 allows from many threads at once; hence @unchecked Sendable, with no mutation after init.
final class OCSPKeys: @unchecked Sendable {
    let ca: OpaquePointer
    let signer: OpaquePointer
    let key: OpaquePointer
    let signerNotAfter: Date

    init(caPEM: String, signerPEM: String, signerKeyPEM: String) throws {
        ERR_clear_error()
        guard let ca = Self.read(caPEM, lc_ocsp_read_certificate) else { throw OCSPSetupError.invalidPEM("CA certificate") }
        guard let signer = Self.read(signerPEM, lc_ocsp_read_certificate) else {
            X509_free(ca)
            throw OCSPSetupError.invalidPEM("signer certificate")
        }
        guard let key = Self.read(signerKeyPEM, lc_ocsp_read_private_key) else {
            X509_free(ca); X509_free(signer)
            throw OCSPSetupError.invalidPEM("signer private key")
        }
        (self.ca, self.signer, self.key) = (ca, signer, key)
        var why = [CChar](repeating: 0, count: 256)
        var notBefore: Int64 = 0
        var notAfter: Int64 = 0
        _ = lc_pki_cert_get_validity(signer, &notBefore, &notAfter)
        signerNotAfter = Date(timeIntervalSince1970: TimeInterval(notAfter))
        ERR_clear_error()
        guard lc_ocsp_check_delegation(ca, signer, key, &why, why.count) == 1 else {
            throw OCSPSetupError.notDelegated(String(decoding: why.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }

    deinit {
        X509_free(ca)
        X509_free(signer)
        EVP_PKEY_free(key)
    }

    private static func read(_ pem: String, _ reader: (UnsafePointer<CChar>?, Int32) -> OpaquePointer?) -> OpaquePointer? {
        let bytes = Array(pem.utf8)
        guard !bytes.isEmpty, bytes.count < Int(Int32.max) else { return nil }
        return bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { reader($0.baseAddress, Int32($0.count)) }
        }
    }
}

/// Takes the bytes OpenSSL allocated for a DER encoding.
func takeDER(_ length: Int, _ pointer: UnsafeMutablePointer<UInt8>?) -> [UInt8]? {
    guard length > 0, let pointer else {
        if let pointer { lc_pki_free(pointer) }
        return nil
    }
    defer { lc_pki_free(pointer) }
    return Array(UnsafeBufferPointer(start: pointer, count: length))
}
