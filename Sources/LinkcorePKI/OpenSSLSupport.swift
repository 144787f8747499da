import COpenSSL
import Foundation

// Thin owners for OpenSSL objects. They never leave this module; the public API is all PEM strings
// and value types, so callers never see a pointer.

enum OpenSSL {
    /// Drains OpenSSL's error queue into one line.
    static func drainErrors() -> String {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages.isEmpty ? "no error reported by OpenSSL" : messages.joined(separator: "; ")
    }

    static func failure(_ operation: String) -> PKIError {
        .openssl(operation: operation, detail: drainErrors())
    }

    /// For calls that return 1 (or any positive value) on success.
    static func check(_ result: Int32, _ operation: String) throws {
        if result <= 0 { throw failure(operation) }
    }

    static func epoch(_ date: Date) -> Int64 {
        Int64(date.timeIntervalSince1970.rounded(.down))
    }
}

final class MemoryBIO {
    let pointer: OpaquePointer

    init() throws {
        guard let bio = BIO_new(BIO_s_mem()) else { throw OpenSSL.failure("allocate a memory BIO") }
        pointer = bio
    }

    convenience init(_ text: String) throws {
        try self.init()
        let bytes = Array(text.utf8)
        if bytes.isEmpty { return }
        let written = bytes.withUnsafeBytes { BIO_write(pointer, $0.baseAddress, Int32($0.count)) }
        if written != Int32(bytes.count) { throw OpenSSL.failure("fill a memory BIO") }
    }

    deinit { BIO_free(pointer) }

    var string: String {
        var data: UnsafePointer<CChar>?
        let length = lc_pki_bio_mem_data(pointer, &data)
        guard let data, length > 0 else { return "" }
        return data.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    /// Runs a shim that writes into a BIO and returns the text.
    static func collect(_ operation: String, _ body: (OpaquePointer) -> Int32) throws -> String {
        let bio = try MemoryBIO()
        if body(bio.pointer) <= 0 { throw OpenSSL.failure(operation) }
        return bio.string
    }
}

final class PrivateKey {
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }

    static func generateP256() throws -> PrivateKey {
        guard let key = lc_pki_ec_p256_keygen() else { throw OpenSSL.failure("generate an EC P-256 key") }
        return PrivateKey(taking: key)
    }

    static func generate(_ algorithm: CAKeyAlgorithm) throws -> PrivateKey {
        switch algorithm {
        case .p256: return try generateP256()
        case .rsa2048:
            guard let key = lc_pki_rsa_keygen(2048) else { throw OpenSSL.failure("generate an RSA-2048 key") }
            return PrivateKey(taking: key)
        }
    }

    init(pem: String) throws {
        ERR_clear_error()
        let bio = try MemoryBIO(pem)
        guard let key = PEM_read_bio_PrivateKey(bio.pointer, nil, nil, nil) else {
            throw PKIError.invalidPEM(expected: "private key", detail: OpenSSL.drainErrors())
        }
        pointer = key
    }

    func pem() throws -> String {
        let bio = try MemoryBIO()
        try OpenSSL.check(PEM_write_bio_PrivateKey(bio.pointer, pointer, nil, nil, 0, nil, nil), "encode a private key as PEM")
        return bio.string
    }
}

final class Certificate {
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    deinit { X509_free(pointer) }

    init(pem: String) throws {
        ERR_clear_error()
        let bio = try MemoryBIO(pem)
        guard let cert = PEM_read_bio_X509(bio.pointer, nil, nil, nil) else {
            throw PKIError.invalidPEM(expected: "certificate", detail: OpenSSL.drainErrors())
        }
        pointer = cert
    }

    init(der: [UInt8]) throws {
        ERR_clear_error()
        let decoded: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress, buffer.count <= Int(Int32.max) else { return nil }
            var cursor: UnsafePointer<UInt8>? = base
            return d2i_X509(nil, &cursor, buffer.count)
        }
        guard let decoded else {
            throw PKIError.invalidPEM(expected: "DER certificate", detail: OpenSSL.drainErrors())
        }
        pointer = decoded
    }

    func pem() throws -> String {
        let bio = try MemoryBIO()
        try OpenSSL.check(PEM_write_bio_X509(bio.pointer, pointer), "encode a certificate as PEM")
        return bio.string
    }

    func serialHex() throws -> String {
        try MemoryBIO.collect("read a serial number") { lc_pki_cert_serial_hex(pointer, $0) }
    }

    func subject() throws -> String {
        try MemoryBIO.collect("print a subject name") { lc_pki_name_print(X509_get_subject_name(pointer), $0) }
    }

    func issuer() throws -> String {
        try MemoryBIO.collect("print an issuer name") { lc_pki_name_print(X509_get_issuer_name(pointer), $0) }
    }

    func validity() throws -> (notBefore: Date, notAfter: Date) {
        var notBefore: Int64 = 0
        var notAfter: Int64 = 0
        try OpenSSL.check(lc_pki_cert_get_validity(pointer, &notBefore, &notAfter), "read a certificate's validity")
        return (Date(timeIntervalSince1970: TimeInterval(notBefore)), Date(timeIntervalSince1970: TimeInterval(notAfter)))
    }

    func subjectAltNames(type: Int32) throws -> [String] {
        let bio = try MemoryBIO()
        if lc_pki_cert_san_entries(pointer, type, bio.pointer) < 0 {
            throw OpenSSL.failure("decode the subjectAltName extension")
        }
        return bio.string.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }
}
