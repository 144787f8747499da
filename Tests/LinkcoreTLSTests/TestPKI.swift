// A throwaway PKI for the TLS tests, generated with OpenSSL's C API (LinkcorePKI is built
// elsewhere): a CA, a server certificate, organisation certificates in every state the server
// must tell apart, a second CA, and a CRL.

import COpenSSL
import Foundation

struct TestPKIError: Error, CustomStringConvertible {
    var description: String
    init(_ what: String) {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            messages.append(String(decoding: bytes, as: UTF8.self))
        }
        self.description = "\(what): \(messages.joined(separator: "; "))"
    }
}

/// A certificate with its key, owning both.
final class TestCertificate {
    let x509: OpaquePointer
    let key: OpaquePointer

    init(x509: OpaquePointer, key: OpaquePointer) {
        self.x509 = x509
        self.key = key
    }

    deinit {
        X509_free(self.x509)
        EVP_PKEY_free(self.key)
    }
}

/// PEM paths of a certificate (chain) and key.
struct TestIdentity: Sendable {
    var certificatePath: String
    var keyPath: String
}

struct TestPKI: Sendable {
    static let orgCode = "TEST01"
    static let revokedSerial = 99

    var directory: String
    var caPath: String
    var crlPath: String
    var server: TestIdentity
    var org: TestIdentity
    var otherCAOrg: TestIdentity
    var selfSigned: TestIdentity
    var expired: TestIdentity
    var notYetValid: TestIdentity
    var revoked: TestIdentity
    var noOrg: TestIdentity

    /// Generated once per test process.
    static let shared: Result<TestPKI, any Error> = Result { try TestPKI.make() }

    static func make() throws -> TestPKI {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("linkcore-tls-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let day = 86_400
        let orgURI = "URI:urn:linkcore:org:\(orgCode)"

        let ca = try makeCertificate(commonName: "linkcore test CA", serial: 1, issuer: nil, isCA: true)
        let otherCA = try makeCertificate(commonName: "other CA", serial: 1, issuer: nil, isCA: true)
        let server = try makeCertificate(
            commonName: "localhost", serial: 2, issuer: ca, san: "DNS:localhost,IP:127.0.0.1")
        let org = try makeCertificate(
            commonName: "org TEST01", serial: 3, issuer: ca, san: "\(orgURI),URI:urn:linkcore:org:SECOND")
        let otherCAOrg = try makeCertificate(commonName: "org other CA", serial: 4, issuer: otherCA, san: orgURI)
        let selfSigned = try makeCertificate(commonName: "self signed", serial: 5, issuer: nil, san: orgURI)
        let expired = try makeCertificate(
            commonName: "org expired", serial: 6, issuer: ca, san: orgURI, notBefore: -10 * day, notAfter: -day)
        let notYetValid = try makeCertificate(
            commonName: "org future", serial: 7, issuer: ca, san: orgURI, notBefore: day, notAfter: 10 * day)
        let revoked = try makeCertificate(commonName: "org revoked", serial: revokedSerial, issuer: ca, san: orgURI)
        let noOrg = try makeCertificate(
            commonName: "no org", serial: 8, issuer: ca, san: "DNS:client.example,URI:https://example.org/x")

        func save(_ certificate: TestCertificate, _ name: String) throws -> TestIdentity {
            let identity = TestIdentity(
                certificatePath: "\(directory)/\(name).pem", keyPath: "\(directory)/\(name).key")
            try writePEM(certificate: certificate.x509, to: identity.certificatePath)
            try writePEM(key: certificate.key, to: identity.keyPath)
            return identity
        }

        let caPath = "\(directory)/ca.pem"
        try writePEM(certificate: ca.x509, to: caPath)
        let crlPath = "\(directory)/crl.pem"
        try writeCRL(issuer: ca, revokedSerials: [revokedSerial], to: crlPath)

        return TestPKI(
            directory: directory,
            caPath: caPath,
            crlPath: crlPath,
            server: try save(server, "server"),
            org: try save(org, "org"),
            otherCAOrg: try save(otherCAOrg, "other-ca-org"),
            selfSigned: try save(selfSigned, "self-signed"),
            expired: try save(expired, "expired"),
            notYetValid: try save(notYetValid, "not-yet-valid"),
            revoked: try save(revoked, "revoked"),
            noOrg: try save(noOrg, "no-org")
        )
    }

    static func makeCertificate(
        commonName: String,
        serial: Int,
        issuer: TestCertificate?,
        isCA: Bool = false,
        san: String? = nil,
        notBefore: Int = -3600,
        notAfter: Int = 30 * 86_400
    ) throws -> TestCertificate {
        guard let key = lc_ec_p256_keygen() else { throw TestPKIError("keygen") }
        guard let x509 = X509_new() else {
            EVP_PKEY_free(key)
            throw TestPKIError("X509_new")
        }
        let certificate = TestCertificate(x509: x509, key: key)
        guard X509_set_version(x509, 2) == 1,
            ASN1_INTEGER_set(X509_get_serialNumber(x509), serial) == 1,
            X509_gmtime_adj(X509_getm_notBefore(x509), notBefore) != nil,
            X509_gmtime_adj(X509_getm_notAfter(x509), notAfter) != nil,
            X509_set_pubkey(x509, key) == 1
        else { throw TestPKIError("X509 fields") }

        let name = X509_get_subject_name(x509)
        guard X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, "linkcore tests", -1, -1, 0) == 1,
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, commonName, -1, -1, 0) == 1
        else { throw TestPKIError("subject") }
        let issuerName = issuer.map { X509_get_subject_name($0.x509) } ?? name
        guard X509_set_issuer_name(x509, issuerName) == 1 else { throw TestPKIError("issuer") }

        var v3 = X509V3_CTX()
        X509V3_set_ctx(&v3, issuer?.x509 ?? x509, x509, nil, nil, 0)
        var extensions: [(Int32, String)] = [
            (NID_basic_constraints, isCA ? "critical,CA:TRUE" : "critical,CA:FALSE"),
            (NID_key_usage, isCA ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature"),
            (NID_subject_key_identifier, "hash"),
        ]
        if !isCA { extensions.append((NID_ext_key_usage, "serverAuth,clientAuth")) }
        if let san { extensions.append((NID_subject_alt_name, san)) }
        for (nid, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &v3, nid, value) else {
                throw TestPKIError("extension \(nid)=\(value)")
            }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(x509, ext, -1) == 1 else { throw TestPKIError("add extension") }
        }
        guard X509_sign(x509, issuer?.key ?? key, EVP_sha256()) > 0 else { throw TestPKIError("sign") }
        return certificate
    }

    static func writeCRL(issuer: TestCertificate, revokedSerials: [Int], to path: String) throws {
        guard let crl = X509_CRL_new() else { throw TestPKIError("X509_CRL_new") }
        defer { X509_CRL_free(crl) }
        guard let lastUpdate = X509_gmtime_adj(nil, -3600), let nextUpdate = X509_gmtime_adj(nil, 30 * 86_400)
        else { throw TestPKIError("CRL times") }
        defer {
            ASN1_TIME_free(lastUpdate)
            ASN1_TIME_free(nextUpdate)
        }
        guard X509_CRL_set_version(crl, 1) == 1,
            X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer.x509)) == 1,
            X509_CRL_set1_lastUpdate(crl, lastUpdate) == 1,
            X509_CRL_set1_nextUpdate(crl, nextUpdate) == 1
        else { throw TestPKIError("CRL fields") }
        for serial in revokedSerials {
            guard let entry = X509_REVOKED_new() else { throw TestPKIError("X509_REVOKED_new") }
            guard let number = ASN1_INTEGER_new() else {
                X509_REVOKED_free(entry)
                throw TestPKIError("ASN1_INTEGER_new")
            }
            defer { ASN1_INTEGER_free(number) }
            guard ASN1_INTEGER_set(number, serial) == 1,
                X509_REVOKED_set_serialNumber(entry, number) == 1,
                X509_REVOKED_set_revocationDate(entry, lastUpdate) == 1,
                X509_CRL_add0_revoked(crl, entry) == 1
            else {
                X509_REVOKED_free(entry)
                throw TestPKIError("revoked entry")
            }
        }
        guard X509_CRL_sort(crl) == 1, X509_CRL_sign(crl, issuer.key, EVP_sha256()) > 0 else {
            throw TestPKIError("CRL sign")
        }
        try withBIO(path) { PEM_write_bio_X509_CRL($0, crl) }
    }

    static func writePEM(certificate: OpaquePointer, to path: String) throws {
        try withBIO(path) { PEM_write_bio_X509($0, certificate) }
    }

    static func writePEM(key: OpaquePointer, to path: String) throws {
        try withBIO(path) { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }
    }

    private static func withBIO(_ path: String, _ body: (OpaquePointer) -> Int32) throws {
        guard let bio = BIO_new_file(path, "w") else { throw TestPKIError("open \(path)") }
        defer { BIO_free(bio) }
        guard body(bio) == 1 else { throw TestPKIError("write \(path)") }
    }
}
