import COpenSSL
import Foundation

/// What a certificate says, decoded.
public struct CertificateInfo: Sendable, Equatable {
    /// RFC 2253 form, most specific first, e.g. `O=ACME,CN=Acme Corp`.
    public var subject: String
    public var issuer: String
    /// Upper-case hex.
    public var serialHex: String
    public var notBefore: Date
    public var notAfter: Date
    public var sanURIs: [String]
    public var dnsNames: [String]
    public var ipAddresses: [String]
    /// basicConstraints CA:TRUE.
    public var isCA: Bool
    /// The extendedKeyUsage purposes linkcore cares about ("serverAuth", "clientAuth"); empty when
    /// the certificate has no EKU extension.
    public var extendedKeyUsage: [String]

    /// The organisation code bound as `urn:linkcore:org:<code>`, if exactly one is bound.
    public var orgCode: String? {
        let codes = sanURIs.compactMap(OrgCode.code(fromURI:))
        return codes.count == 1 ? codes[0] : nil
    }

    /// Decodes the first certificate in `pem`.
    public static func parse(pem: String) throws -> CertificateInfo {
        try parse(try Certificate(pem: pem))
    }

    /// Decodes a DER certificate (e.g. a TLS peer's, as `i2d_X509` produced it).
    public static func parse(der: [UInt8]) throws -> CertificateInfo {
        try parse(try Certificate(der: der))
    }

    static func parse(_ cert: Certificate) throws -> CertificateInfo {
        let validity = try cert.validity()
        var usages: [String] = []
        if lc_pki_cert_has_eku(cert.pointer) == 1 {
            let flags = X509_get_extended_key_usage(cert.pointer)
            if flags & UInt32(XKU_SSL_SERVER) != 0 { usages.append("serverAuth") }
            if flags & UInt32(XKU_SSL_CLIENT) != 0 { usages.append("clientAuth") }
        }
        return CertificateInfo(
            subject: try cert.subject(),
            issuer: try cert.issuer(),
            serialHex: try cert.serialHex(),
            notBefore: validity.notBefore,
            notAfter: validity.notAfter,
            sanURIs: try cert.subjectAltNames(type: GEN_URI),
            dnsNames: try cert.subjectAltNames(type: GEN_DNS),
            ipAddresses: try cert.subjectAltNames(type: GEN_IPADD),
            isCA: X509_check_ca(cert.pointer) == 1,
            extendedKeyUsage: usages)
    }
}

/// What a CRL says, decoded.
public struct CRLInfo: Sendable, Equatable {
    public var issuer: String
    public var lastUpdate: Date
    public var nextUpdate: Date?
    public var crlNumber: UInt64?
    /// Upper-case hex serials, in CRL order.
    public var revokedSerials: [String]

    public static func parse(pem: String) throws -> CRLInfo {
        ERR_clear_error()
        let bio = try MemoryBIO(pem)
        guard let crl = PEM_read_bio_X509_CRL(bio.pointer, nil, nil, nil) else {
            throw PKIError.invalidPEM(expected: "CRL", detail: OpenSSL.drainErrors())
        }
        defer { X509_CRL_free(crl) }
        var last: Int64 = 0
        var next: Int64 = 0
        var number: UInt64 = 0
        var hasNumber: Int32 = 0
        try OpenSSL.check(lc_pki_crl_get_info(crl, &last, &next, &number, &hasNumber), "read the CRL's fields")
        var serials: [String] = []
        for index in 0..<max(0, lc_pki_crl_revoked_count(crl)) {
            serials.append(try MemoryBIO.collect("read a revoked serial") { lc_pki_crl_revoked_serial_hex(crl, index, $0) })
        }
        return CRLInfo(
            issuer: try MemoryBIO.collect("print the CRL issuer") { lc_pki_name_print(X509_CRL_get_issuer(crl), $0) },
            lastUpdate: Date(timeIntervalSince1970: TimeInterval(last)),
            nextUpdate: next == 0 ? nil : Date(timeIntervalSince1970: TimeInterval(next)),
            crlNumber: hasNumber == 1 ? number : nil,
            revokedSerials: serials)
    }
}
