import COpenSSL
import Foundation

/// A development certificate authority: EC P-256 keys (an RSA-2048 CA key on request, for the
/// number card authority), SHA-256 signatures, random 128-bit serials, X.509 v3. Holds only PEM text, so it is a plain Sendable value; every operation re-reads its key.
public struct CertificateAuthority: Sendable {
    public let certificate: PEMCertificate

    /// The clock every default "now" reads (notBefore, a CRL's thisUpdate, revocation dates): the
    /// system clock unless one is injected, so that tests can check validity periods exactly.
    public let now: @Sendable () -> Date

    /// The longest validity accepted for any certificate (100 years).
    static let maximumDays = 36_500

    /// Creates a self-signed root: basicConstraints critical CA:TRUE, keyUsage critical
    /// keyCertSign+cRLSign, subjectKeyIdentifier. `keyAlgorithm` is the CA's own key; the network
    /// PKI keeps the default (P-256), the card authority chooses RSA-2048 as JPKI does. Whatever
    /// the CA key, everything it signs is signed with SHA-256, and the leaves it generates keys for
    /// (`issueServer`, `issueOrganisation`, OCSP signers) stay P-256.
    public static func create(commonName: String, validDays: Int, notBefore: Date? = nil, keyAlgorithm: CAKeyAlgorithm = .p256,
                              now: @escaping @Sendable () -> Date = { Date() }) throws -> CertificateAuthority {
        try checkText(commonName, what: "CA common name")
        let validity = try validityWindow(notBefore: notBefore ?? now(), validDays: validDays)
        ERR_clear_error()
        let key = try PrivateKey.generate(keyAlgorithm)
        let cert = try CertificateBuilder.build(
            subject: [("CN", commonName)],
            publicKey: key.pointer,
            issuer: nil,
            notBefore: validity.notBefore, notAfter: validity.notAfter,
            extensions: [
                (NID_basic_constraints, "critical,CA:TRUE"),
                (NID_key_usage, "critical,keyCertSign,cRLSign"),
                (NID_subject_key_identifier, "hash"),
            ],
            subjectAltNames: [],
            signingKey: key.pointer)
        return try CertificateAuthority(loaded: cert, key: key, now: now)
    }

    /// Loads an existing CA; checks that the key matches and that the certificate is a CA.
    public init(certificatePEM: String, privateKeyPEM: String, now: @escaping @Sendable () -> Date = { Date() }) throws {
        let cert = try Certificate(pem: certificatePEM)
        let key = try PrivateKey(pem: privateKeyPEM)
        try self.init(loaded: cert, key: key, now: now)
    }

    private init(loaded cert: Certificate, key: PrivateKey, now: @escaping @Sendable () -> Date) throws {
        ERR_clear_error()
        guard X509_check_private_key(cert.pointer, key.pointer) == 1 else {
            ERR_clear_error()
            throw PKIError.keyMismatch
        }
        guard X509_check_ca(cert.pointer) == 1, X509_get_key_usage(cert.pointer) & UInt32(KU_KEY_CERT_SIGN) != 0 else {
            throw PKIError.notACertificateAuthority(subject: (try? cert.subject()) ?? "?")
        }
        certificate = PEMCertificate(certificatePEM: try cert.pem(), privateKeyPEM: try key.pem(), serialHex: try cert.serialHex())
        self.now = now
    }

    /// A TLS server certificate: CN, SAN DNS names and IP addresses, EKU serverAuth.
    public func issueServer(commonName: String, dnsNames: [String], ipAddresses: [String], notBefore: Date? = nil, validDays: Int) throws -> PEMCertificate {
        try Self.checkText(commonName, what: "server common name")
        if dnsNames.isEmpty && ipAddresses.isEmpty {
            throw PKIError.invalidArgument("a server certificate needs at least one DNS name or IP address")
        }
        for name in dnsNames { try Self.checkDNSName(name) }
        let validity = try Self.validityWindow(notBefore: notBefore ?? now(), validDays: validDays)
        return try issueLeaf(
            subject: [("CN", commonName)],
            publicKey: nil,
            notBefore: validity.notBefore, notAfter: validity.notAfter,
            extendedKeyUsage: "serverAuth",
            subjectAltNames: dnsNames.map { (GEN_DNS, $0) } + ipAddresses.map { (GEN_IPADD, $0) })
    }

    /// An organisation's client certificate: SAN URI `urn:linkcore:org:<code>`, CN = name, O = code,
    /// EKU clientAuth.
    public func issueOrganisation(code: String, name: String, notBefore: Date? = nil, validDays: Int) throws -> PEMCertificate {
        try OrgCode.validate(code)
        try Self.checkText(name, what: "organisation name")
        let validity = try Self.validityWindow(notBefore: notBefore ?? now(), validDays: validDays)
        return try issueLeaf(
            subject: [("CN", name), ("O", code)],
            publicKey: nil,
            notBefore: validity.notBefore, notAfter: validity.notAfter,
            extendedKeyUsage: "clientAuth",
            subjectAltNames: [(GEN_URI, OrgCode.uri(for: code))])
    }

    /// The general client-certificate form (EKU clientAuth), for tests: any SAN URIs (or none), any
    /// validity window (also one already over). notAfter must not be after the CA's.
    public func issueClient(commonName: String, sanURIs: [String], notBefore: Date, notAfter: Date) throws -> PEMCertificate {
        try Self.checkText(commonName, what: "client common name")
        guard notAfter > notBefore else {
            throw PKIError.invalidArgument("notAfter (\(PKIFormat.date(notAfter))) must be after notBefore (\(PKIFormat.date(notBefore)))")
        }
        for uri in sanURIs { try Self.checkText(uri, what: "SAN URI") }
        return try issueLeaf(
            subject: [("CN", commonName)],
            publicKey: nil,
            notBefore: notBefore, notAfter: notAfter,
            extendedKeyUsage: "clientAuth",
            subjectAltNames: sanURIs.map { (GEN_URI, $0) })
    }

    /// Certifies a company's CSR (private-sector onboarding). The CSR's self-signature must verify
    /// and its key must offer at least 112 bits of security. Everything else it asks for (subject
    /// beyond its CN, extensions) is ignored: the certificate gets CN = the CSR's CN (or the code),
    /// O = orgCode, SAN URI `urn:linkcore:org:<orgCode>`, EKU clientAuth. Returns the certificate PEM.
    public func sign(csrPEM: String, orgCode: String, validDays: Int) throws -> String {
        try sign(csrPEM: csrPEM, orgCode: orgCode, notBefore: now(), validDays: validDays).certificatePEM
    }

    /// As `sign(csrPEM:orgCode:validDays:)`, also returning the serial (privateKeyPEM is empty: the
    /// key stays with the company).
    public func sign(csrPEM: String, orgCode: String, notBefore: Date, validDays: Int) throws -> PEMCertificate {
        try OrgCode.validate(orgCode)
        let validity = try Self.validityWindow(notBefore: notBefore, validDays: validDays)
        ERR_clear_error()
        let bio = try MemoryBIO(csrPEM)
        guard let request = PEM_read_bio_X509_REQ(bio.pointer, nil, nil, nil) else {
            throw PKIError.invalidPEM(expected: "certificate signing request", detail: OpenSSL.drainErrors())
        }
        defer { X509_REQ_free(request) }
        guard let publicKey = X509_REQ_get0_pubkey(request) else {
            throw OpenSSL.failure("read the CSR's public key")
        }
        guard X509_REQ_verify(request, publicKey) == 1 else {
            throw PKIError.csrSignatureInvalid(detail: OpenSSL.drainErrors())
        }
        let bits = Int(EVP_PKEY_get_security_bits(publicKey))
        guard bits >= 112 else { throw PKIError.weakKey(securityBits: bits) }
        let cnBIO = try MemoryBIO()
        let requestedCN = lc_pki_name_common_name(X509_REQ_get_subject_name(request), cnBIO.pointer) == 1 ? cnBIO.string : ""
        ERR_clear_error()
        let commonName = requestedCN.isEmpty || requestedCN.utf8.contains(0) ? orgCode : requestedCN
        var issued = try issueLeaf(
            subject: [("CN", commonName), ("O", orgCode)],
            publicKey: publicKey,
            notBefore: validity.notBefore, notAfter: validity.notAfter,
            extendedKeyUsage: "clientAuth",
            subjectAltNames: [(GEN_URI, OrgCode.uri(for: orgCode))])
        issued.privateKeyPEM = ""
        return issued
    }

    /// A v2 CRL signed by the CA, with AKI and a CRL number; every entry is dated now.
    /// With no `crlNumber`, the current Unix time is used, which increases between calls.
    public func makeCRL(revokedSerials: [String], nextUpdateDays: Int) throws -> String {
        let date = now()
        return try makeCRL(
            revoked: revokedSerials.map { RevokedCertificate(serialHex: $0, revocationDate: date) },
            nextUpdateDays: nextUpdateDays, crlNumber: nil, thisUpdate: date)
    }

    /// The full form: per-entry revocation dates and an explicit CRL number.
    public func makeCRL(revoked: [RevokedCertificate], nextUpdateDays: Int, crlNumber: UInt64?, thisUpdate: Date? = nil) throws -> String {
        guard (1...Self.maximumDays).contains(nextUpdateDays) else {
            throw PKIError.invalidArgument("nextUpdateDays must be between 1 and \(Self.maximumDays), not \(nextUpdateDays)")
        }
        let last = thisUpdate ?? now()
        return try makeCRL(revoked: revoked, thisUpdate: last, nextUpdate: last.addingTimeInterval(TimeInterval(nextUpdateDays) * 86_400),
                           crlNumber: crlNumber)
    }

    /// As above with an explicit nextUpdate (after thisUpdate), for CRLs published more often
    /// than daily. Entries with a `reasonCode` carry the reasonCode extension.
    public func makeCRL(revoked: [RevokedCertificate], thisUpdate: Date, nextUpdate: Date, crlNumber: UInt64?) throws -> String {
        guard nextUpdate > thisUpdate else {
            throw PKIError.invalidArgument("nextUpdate (\(PKIFormat.date(nextUpdate))) must be after thisUpdate (\(PKIFormat.date(thisUpdate)))")
        }
        for entry in revoked {
            try Self.checkSerialHex(entry.serialHex)
            if let code = entry.reasonCode, !(0...10).contains(code) || code == 7 {
                throw PKIError.invalidArgument("\(code) is not a CRL reason code (0-10, 7 unused)")
            }
        }
        ERR_clear_error()
        let (ca, key) = try loadObjects()
        guard let crl = X509_CRL_new() else { throw OpenSSL.failure("allocate a CRL") }
        defer { X509_CRL_free(crl) }
        try OpenSSL.check(X509_CRL_set_version(crl, Int(X509_CRL_VERSION_2)), "set the CRL version")
        try OpenSSL.check(X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca.pointer)), "set the CRL issuer")
        let last = OpenSSL.epoch(thisUpdate)
        try OpenSSL.check(lc_pki_crl_set_times(crl, last, OpenSSL.epoch(nextUpdate)), "set the CRL's update times")
        for entry in revoked {
            // 0 (unspecified) is written as no reason (RFC 5280 §5.3.1); -1 means none.
            let reason = Int32(entry.reasonCode.flatMap { $0 == 0 ? nil : $0 } ?? -1)
            try OpenSSL.check(lc_pki_crl_add_revoked_reason(crl, entry.serialHex, OpenSSL.epoch(entry.revocationDate), reason),
                              "add serial \(entry.serialHex) to the CRL")
        }
        try OpenSSL.check(X509_CRL_sort(crl), "sort the CRL")
        try OpenSSL.check(lc_pki_crl_add_aki(crl, ca.pointer), "add the CRL's authorityKeyIdentifier")
        try OpenSSL.check(lc_pki_crl_set_number(crl, crlNumber ?? UInt64(max(0, last))), "set the CRL number")
        try OpenSSL.check(X509_CRL_sign(crl, key.pointer, EVP_sha256()), "sign the CRL")
        let out = try MemoryBIO()
        try OpenSSL.check(PEM_write_bio_X509_CRL(out.pointer, crl), "encode the CRL as PEM")
        return out.string
    }

    // MARK: - Internals

    private func loadObjects() throws -> (Certificate, PrivateKey) {
        (try Certificate(pem: certificate.certificatePEM), try PrivateKey(pem: certificate.privateKeyPEM))
    }

    /// Issues a leaf (basicConstraints critical CA:FALSE, keyUsage critical digitalSignature, the
    /// given EKU, SKI, AKI). With no public key, a fresh P-256 key is generated and returned.
    func issueLeaf(subject: [(String, String)], publicKey: OpaquePointer?, notBefore: Date, notAfter: Date,
                           extendedKeyUsage: String, subjectAltNames: [(Int32, String)]) throws -> PEMCertificate {
        ERR_clear_error()
        let (ca, caKey) = try loadObjects()
        let caNotAfter = try ca.validity().notAfter
        if notAfter > caNotAfter {
            throw PKIError.validityExceedsCA(notAfter: notAfter, caNotAfter: caNotAfter)
        }
        var generated: PrivateKey?
        let subjectKey: OpaquePointer
        if let publicKey {
            subjectKey = publicKey
        } else {
            let key = try PrivateKey.generateP256()
            generated = key
            subjectKey = key.pointer
        }
        let cert = try CertificateBuilder.build(
            subject: subject,
            publicKey: subjectKey,
            issuer: ca,
            notBefore: notBefore, notAfter: notAfter,
            extensions: [
                (NID_basic_constraints, "critical,CA:FALSE"),
                (NID_key_usage, "critical,digitalSignature"),
                (NID_ext_key_usage, extendedKeyUsage),
                (NID_subject_key_identifier, "hash"),
                (NID_authority_key_identifier, "keyid:always"),
            ],
            subjectAltNames: subjectAltNames,
            signingKey: caKey.pointer)
        return PEMCertificate(certificatePEM: try cert.pem(), privateKeyPEM: try generated?.pem() ?? "", serialHex: try cert.serialHex())
    }

    static func validityWindow(notBefore: Date, validDays: Int) throws -> (notBefore: Date, notAfter: Date) {
        guard (1...maximumDays).contains(validDays) else {
            throw PKIError.invalidArgument("validity must be between 1 and \(maximumDays) days, not \(validDays)")
        }
        return (notBefore, notBefore.addingTimeInterval(TimeInterval(validDays) * 86_400))
    }

    static func checkText(_ text: String, what: String) throws {
        if text.isEmpty { throw PKIError.invalidArgument("the \(what) is empty") }
        if text.utf8.count > 64 && what.hasSuffix("common name") || text.utf8.count > 1024 {
            throw PKIError.invalidArgument("the \(what) \"\(text.prefix(40))…\" is too long (common names: at most 64 bytes)")
        }
        if text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw PKIError.invalidArgument("the \(what) \"\(text.debugDescription)\" contains control characters")
        }
    }

    static func checkDNSName(_ name: String) throws {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        let ok = !name.isEmpty && name.utf8.count <= 253 && labels.enumerated().allSatisfy { index, label in
            if index == 0 && label == "*" && labels.count > 2 { return true }
            return !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        }
        if !ok { throw PKIError.invalidArgument("\"\(name)\" is not a valid DNS name (letters, digits, '-', dot-separated labels)") }
    }

    static func checkSerialHex(_ serial: String) throws {
        let ok = !serial.isEmpty && serial.utf8.count <= 40 && serial.unicodeScalars.allSatisfy { $0.properties.isASCIIHexDigit }
        if !ok { throw PKIError.invalidArgument("\"\(serial)\" is not a hexadecimal serial number") }
    }
}

/// Assembles and signs one X.509 v3 certificate.
enum CertificateBuilder {
    static func build(subject: [(String, String)], publicKey: OpaquePointer, issuer: Certificate?,
                      notBefore: Date, notAfter: Date, extensions: [(Int32, String)],
                      subjectAltNames: [(Int32, String)], signingKey: OpaquePointer) throws -> Certificate {
        guard let pointer = X509_new() else { throw OpenSSL.failure("allocate a certificate") }
        let cert = Certificate(taking: pointer)
        try OpenSSL.check(X509_set_version(pointer, Int(X509_VERSION_3)), "set the certificate version")
        try OpenSSL.check(lc_pki_cert_set_random_serial(pointer), "set a random serial number")

        guard let name = X509_NAME_new() else { throw OpenSSL.failure("allocate a name") }
        defer { X509_NAME_free(name) }
        for (field, value) in subject {
            try OpenSSL.check(lc_pki_name_add_utf8(name, field, value), "add \(field)=\(value) to the subject")
        }
        try OpenSSL.check(X509_set_subject_name(pointer, name), "set the subject")
        let issuerName = issuer.map { X509_get_subject_name($0.pointer) } ?? name
        try OpenSSL.check(X509_set_issuer_name(pointer, issuerName), "set the issuer")
        try OpenSSL.check(lc_pki_cert_set_validity(pointer, OpenSSL.epoch(notBefore), OpenSSL.epoch(notAfter)), "set the validity")
        try OpenSSL.check(X509_set_pubkey(pointer, publicKey), "set the public key")

        let issuerCert = issuer?.pointer ?? pointer
        for (nid, value) in extensions {
            let label = String(cString: OBJ_nid2sn(nid))
            try OpenSSL.check(lc_pki_cert_add_ext(pointer, issuerCert, nid, value), "add the \(label) extension (\(value))")
        }
        if !subjectAltNames.isEmpty {
            guard let names = lc_pki_general_names_new() else { throw OpenSSL.failure("allocate subjectAltName") }
            defer { lc_pki_general_names_free(names) }
            for (type, value) in subjectAltNames {
                if lc_pki_general_names_add(names, type, value) != 1 {
                    let kind = type == GEN_IPADD ? "IP address" : type == GEN_DNS ? "DNS name" : "URI"
                    let detail = OpenSSL.drainErrors()
                    throw PKIError.invalidArgument("invalid subjectAltName \(kind) \"\(value)\": \(detail)")
                }
            }
            try OpenSSL.check(lc_pki_cert_add_san(pointer, names, 0), "add the subjectAltName extension")
        }
        if X509_sign(pointer, signingKey, EVP_sha256()) <= 0 {
            throw OpenSSL.failure("sign the certificate")
        }
        return cert
    }
}
