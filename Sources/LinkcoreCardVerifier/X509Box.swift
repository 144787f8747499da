import COpenSSL
import Foundation

/// One parsed X509 (freed on deinit) and the checks the verifier needs.
final class X509Box {
    let pointer: OpaquePointer

    init(pem: String) throws(CardLoginError) {
        let bytes = Array(pem.utf8)
        let parsed: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_X509(bio, nil, nil, nil)
        }
        guard let parsed else {
            ERR_clear_error()
            throw .malformedCertificate
        }
        pointer = parsed
    }

    deinit { X509_free(pointer) }

    /// X509_verify_cert against the card CA alone, at `time`.
    func verifyChain(caPEM: String, at time: Date) throws(CardLoginError) {
        let ca = try X509Box(pem: caPEM)
        guard let store = X509_STORE_new() else { throw .notFromCardCA("out of memory") }
        defer { X509_STORE_free(store) }
        guard X509_STORE_add_cert(store, ca.pointer) == 1, let context = X509_STORE_CTX_new() else {
            throw .notFromCardCA("cannot load the card CA")
        }
        defer { X509_STORE_CTX_free(context) }
        guard X509_STORE_CTX_init(context, store, pointer, nil) == 1 else { throw .notFromCardCA("cannot start verification") }
        X509_STORE_CTX_set_time(context, 0, time_t(time.timeIntervalSince1970))
        if X509_verify_cert(context) == 1 { return }
        let code = X509_STORE_CTX_get_error(context)
        ERR_clear_error()
        switch code {
        case X509_V_ERR_CERT_HAS_EXPIRED: throw .certificateExpired
        case X509_V_ERR_CERT_NOT_YET_VALID: throw .certificateNotYetValid
        default: throw .notFromCardCA(String(cString: X509_verify_cert_error_string(Int(code))))
        }
    }

    func verifySignature(_ signature: [UInt8], over data: [UInt8]) throws(CardLoginError) {
        guard let key = X509_get0_pubkey(pointer), let context = EVP_MD_CTX_new() else { throw .malformedCertificate }
        defer { EVP_MD_CTX_free(context) }
        let ok = EVP_DigestVerifyInit(context, nil, EVP_sha256(), nil, key) == 1
            && EVP_DigestVerify(context, signature, signature.count, data, data.count) == 1
        ERR_clear_error()
        if !ok { throw .badSignature }
    }

    /// The user certificate's role: keyUsage digitalSignature without nonRepudiation. The
    /// signature certificate carries nonRepudiation (its key signs the holder's consent), and a
    /// certificate without keyUsage states no role; neither logs in.
    func checkLoginUsage() throws(CardLoginError) {
        let usage = X509_get_key_usage(pointer)  // UINT32_MAX when the extension is absent
        guard usage != UInt32.max, usage & UInt32(KU_DIGITAL_SIGNATURE) != 0, usage & UInt32(KU_NON_REPUDIATION) == 0 else {
            throw .signatureCertificate
        }
    }

    /// The first OCSP URL of authorityInfoAccess.
    func ocspResponderURL() -> URL? {
        guard let bio = BIO_new(BIO_s_mem()) else { return nil }
        defer { BIO_free(bio) }
        guard lc_ocsp_cert_responder_url(pointer, bio) == 1 else { return nil }
        var data: UnsafePointer<CChar>?
        let length = lc_pki_bio_mem_data(bio, &data)
        guard let data else { return nil }
        return URL(string: String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self))
    }

    func serialHex() throws(CardLoginError) -> String {
        guard let serial = X509_get0_serialNumber(pointer), let bn = ASN1_INTEGER_to_BN(serial, nil) else { throw .malformedCertificate }
        defer { BN_free(bn) }
        guard let hex = BN_bn2hex(bn) else { throw .malformedCertificate }
        defer { lc_pki_free(hex) }
        return String(cString: hex)
    }

    func notAfter() throws(CardLoginError) -> Date {
        var notBefore: Int64 = 0, notAfter: Int64 = 0
        guard lc_pki_cert_get_validity(pointer, &notBefore, &notAfter) == 1 else { throw .malformedCertificate }
        return Date(timeIntervalSince1970: TimeInterval(notAfter))
    }
}
