import Foundation
import LinkcorePKI
import LinkcoreTestSupport
import Testing

@Suite("Certificates")
struct CertificateTests {
    @Test func caIsASelfSignedP256RootWithCAExtensions() async throws {
        let ca = try testCA()
        let info = try CertificateInfo.parse(pem: ca.certificate.certificatePEM)
        #expect(info.isCA)
        #expect(info.subject == "CN=linkcore test CA")
        #expect(info.issuer == info.subject)
        #expect(info.serialHex == ca.certificate.serialHex)
        #expect(info.serialHex.count == 32)
        #expect(info.notBefore == issuedAt)
        #expect(info.notAfter == issuedAt.addingTimeInterval(3650 * day))

        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let caFile = try dir.write("ca.pem", ca.certificate.certificatePEM)
        let text = try await openssl(["x509", "-in", caFile, "-noout", "-text"]).output
        #expect(text.contains("Version: 3 (0x2)"))
        #expect(text.contains("ecdsa-with-SHA256"))
        #expect(text.contains("NIST CURVE: P-256"))
        #expect(text.contains("X509v3 Basic Constraints: critical\n                CA:TRUE"))
        #expect(text.contains("X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign"))
        #expect(text.contains("X509v3 Subject Key Identifier"))
        #expect(try await openssl(["verify", "-CAfile", caFile, caFile]).status == 0)
        let key = try await openssl(["pkey", "-noout", "-text"], stdin: ca.certificate.privateKeyPEM)
        #expect(key.status == 0 && key.output.contains("NIST CURVE: P-256"))
    }

    @Test func serverCertificateHasSANsAndServerAuthAndVerifies() async throws {
        let ca = try testCA()
        let server = try ca.issueServer(commonName: "core.test", dnsNames: ["core.test", "localhost"], ipAddresses: ["127.0.0.1", "::1"], validDays: 30)
        let info = try CertificateInfo.parse(pem: server.certificatePEM)
        #expect(info.subject == "CN=core.test")
        #expect(info.issuer == "CN=linkcore test CA")
        #expect(info.dnsNames == ["core.test", "localhost"])
        #expect(info.ipAddresses == ["127.0.0.1", "::1"])
        #expect(info.sanURIs.isEmpty)
        #expect(info.extendedKeyUsage == ["serverAuth"])
        #expect(!info.isCA)
        #expect(info.notBefore == issuedAt)
        #expect(info.notAfter == issuedAt.addingTimeInterval(30 * day))

        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let caFile = try dir.write("ca.pem", ca.certificate.certificatePEM)
        let certFile = try dir.write("server.pem", server.certificatePEM)
        let verify = try await openssl(["verify", "-CAfile", caFile, "-purpose", "sslserver", "-verify_hostname", "core.test", certFile])
        #expect(verify.status == 0, "\(verify.output)")
        let asClient = try await openssl(["verify", "-CAfile", caFile, "-purpose", "sslclient", certFile])
        #expect(asClient.status != 0)
        let text = try await openssl(["x509", "-in", certFile, "-noout", "-text"]).output
        #expect(text.contains("CA:FALSE"))
        #expect(text.contains("X509v3 Key Usage: critical\n                Digital Signature"))
        #expect(text.contains("X509v3 Authority Key Identifier"))
        #expect(text.contains("X509v3 Subject Key Identifier"))
        // The key matches the certificate.
        let keyFile = try dir.write("server.key", server.privateKeyPEM)
        let certKey = try await openssl(["x509", "-in", certFile, "-noout", "-pubkey"]).output
        let keyPub = try await openssl(["pkey", "-in", keyFile, "-pubout"]).output
        #expect(certKey == keyPub)
    }

    @Test func organisationCertificateBindsTheCodeAsSANURI() async throws {
        let ca = try testCA()
        let org = try ca.issueOrganisation(code: "CITY-013", name: "City of Example", validDays: 90)
        let info = try CertificateInfo.parse(pem: org.certificatePEM)
        #expect(info.sanURIs == ["urn:linkcore:org:CITY-013"])
        #expect(info.orgCode == "CITY-013")
        #expect(info.subject == "O=CITY-013,CN=City of Example")
        #expect(info.extendedKeyUsage == ["clientAuth"])
        #expect(info.dnsNames.isEmpty)
        #expect(info.notBefore == issuedAt)
        #expect(info.notAfter == issuedAt.addingTimeInterval(90 * day))

        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let caFile = try dir.write("ca.pem", ca.certificate.certificatePEM)
        let certFile = try dir.write("org.pem", org.certificatePEM)
        let verify = try await openssl(["verify", "-CAfile", caFile, "-purpose", "sslclient", certFile])
        #expect(verify.status == 0, "\(verify.output)")
        let text = try await openssl(["x509", "-in", certFile, "-noout", "-text"]).output
        #expect(text.contains("URI:urn:linkcore:org:CITY-013"))
        #expect(text.contains("TLS Web Client Authentication"))
    }

    @Test func derParsingMatchesPEMParsing() async throws {
        let org = try testCA().issueOrganisation(code: "ACME", name: "Acme", validDays: 5)
        let body = org.certificatePEM.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let der = try #require(Data(base64Encoded: body))
        #expect(try CertificateInfo.parse(der: [UInt8](der)) == CertificateInfo.parse(pem: org.certificatePEM))
        let error = #expect(throws: PKIError.self) { try CertificateInfo.parse(der: [1, 2, 3]) }
        #expect(error?.description.hasPrefix("not a DER certificate: ") == true)
        #expect(throws: PKIError.self) { try CertificateInfo.parse(der: []) }
    }

    @Test func serialsAreRandomAndDistinct() async throws {
        let ca = try testCA()
        let serials = try (0..<8).map { _ in try ca.issueOrganisation(code: "ACME", name: "Acme", validDays: 1).serialHex }
        #expect(Set(serials).count == 8)
        #expect(serials.allSatisfy { $0.count == 32 })
    }

    @Test func expiredAndURIlessClientCertificatesForTests() async throws {
        let ca = try testCA()
        let expired = try ca.issueClient(commonName: "old", sanURIs: ["urn:linkcore:org:OLD"],
                                         notBefore: .now.addingTimeInterval(-10 * 86_400), notAfter: .now.addingTimeInterval(-86_400))
        let noURI = try ca.issueClient(commonName: "anonymous", sanURIs: [], notBefore: .now, notAfter: .now.addingTimeInterval(86_400))
        #expect(try CertificateInfo.parse(pem: noURI.certificatePEM).sanURIs.isEmpty)
        #expect(try CertificateInfo.parse(pem: noURI.certificatePEM).orgCode == nil)

        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let caFile = try dir.write("ca.pem", ca.certificate.certificatePEM)
        let result = try await openssl(["verify", "-CAfile", caFile, try dir.write("expired.pem", expired.certificatePEM)])
        #expect(result.status != 0)
        #expect(result.output.contains("certificate has expired"))
        #expect(try await openssl(["verify", "-CAfile", caFile, try dir.write("nouri.pem", noURI.certificatePEM)]).status == 0)
    }

    @Test func revokedCertificateFailsCRLCheck() async throws {
        let ca = try testCA()
        let revoked = try ca.issueOrganisation(code: "BAD", name: "Bad Actor", validDays: 30)
        let good = try ca.issueOrganisation(code: "GOOD", name: "Good Actor", validDays: 30)
        let crlPEM = try ca.makeCRL(revokedSerials: [revoked.serialHex], nextUpdateDays: 7)
        let crl = try CRLInfo.parse(pem: crlPEM)
        #expect(crl.revokedSerials == [revoked.serialHex])
        // No explicit number: the Unix time of thisUpdate.
        let expectedNumber = UInt64(issuedAt.timeIntervalSince1970)  // the injected clock's instant
        #expect(crl.crlNumber == expectedNumber)
        #expect(crl.issuer == "CN=linkcore test CA")
        #expect(crl.lastUpdate == issuedAt)
        #expect(crl.nextUpdate == issuedAt.addingTimeInterval(7 * day))

        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let caFile = try dir.write("ca.pem", ca.certificate.certificatePEM)
        let crlFile = try dir.write("crl.pem", crlPEM)
        let bad = try await openssl(["verify", "-crl_check", "-CAfile", caFile, "-CRLfile", crlFile, try dir.write("bad.pem", revoked.certificatePEM)])
        #expect(bad.status != 0)
        #expect(bad.output.contains("certificate revoked"))
        let ok = try await openssl(["verify", "-crl_check", "-CAfile", caFile, "-CRLfile", crlFile, try dir.write("good.pem", good.certificatePEM)])
        #expect(ok.status == 0, "\(ok.output)")
        let text = try await openssl(["crl", "-in", crlFile, "-noout", "-text"]).output
        #expect(text.contains("Version 2 (0x1)"))
        #expect(text.contains("X509v3 CRL Number"))
        #expect(text.contains("X509v3 Authority Key Identifier"))
        #expect(text.contains("ecdsa-with-SHA256"))
        #expect(try await openssl(["crl", "-in", crlFile, "-noout", "-CAfile", caFile]).output.contains("verify OK"))
    }

    @Test func explicitCRLNumberAndEmptyCRL() throws {
        let crl = try CRLInfo.parse(pem: try testCA().makeCRL(revoked: [], nextUpdateDays: 30, crlNumber: 42))
        #expect(crl.crlNumber == 42)
        #expect(crl.revokedSerials.isEmpty)
    }

    @Test func loadingChecksKeyAndCAness() throws {
        let ca = try testCA()
        let reloaded = try CertificateAuthority(certificatePEM: ca.certificate.certificatePEM, privateKeyPEM: ca.certificate.privateKeyPEM)
        #expect(reloaded.certificate.serialHex == ca.certificate.serialHex)
        let issued = try reloaded.issueOrganisation(code: "ACME", name: "Acme", validDays: 1)
        #expect(try CertificateInfo.parse(pem: issued.certificatePEM).issuer == "CN=linkcore test CA")

        let other = try CertificateAuthority.create(commonName: "other", validDays: 10)
        #expect(throws: PKIError.keyMismatch) {
            try CertificateAuthority(certificatePEM: ca.certificate.certificatePEM, privateKeyPEM: other.certificate.privateKeyPEM)
        }
        let leaf = try ca.issueOrganisation(code: "ACME", name: "Acme", validDays: 1)
        let error = #expect(throws: PKIError.self) {
            try CertificateAuthority(certificatePEM: leaf.certificatePEM, privateKeyPEM: leaf.privateKeyPEM)
        }
        #expect(error?.description.contains("is not a CA certificate") == true)
        let garbage = #expect(throws: PKIError.self) { try CertificateAuthority(certificatePEM: "nonsense", privateKeyPEM: "") }
        #expect(garbage?.description.hasPrefix("not a PEM certificate: ") == true)
        #expect(garbage?.description.contains("no start line") == true)
    }

    @Test func validityIsCheckedAgainstTheCA() throws {
        let ca = try CertificateAuthority.create(commonName: "short CA", validDays: 10)
        let error = #expect(throws: PKIError.self) { try ca.issueOrganisation(code: "ACME", name: "Acme", validDays: 11) }
        #expect(error?.description.contains("after its CA") == true)
        #expect(throws: PKIError.self) { try ca.issueOrganisation(code: "ACME", name: "Acme", validDays: 0) }
        #expect(throws: PKIError.self) { try ca.issueServer(commonName: "x", dnsNames: [], ipAddresses: [], validDays: 1) }
        let ip = #expect(throws: PKIError.self) { try ca.issueServer(commonName: "x", dnsNames: ["x"], ipAddresses: ["300.1.1.1"], validDays: 1) }
        #expect(ip?.description.contains("invalid subjectAltName IP address \"300.1.1.1\"") == true)
        #expect(throws: PKIError.self) { try ca.issueServer(commonName: "x", dnsNames: ["a,DNS:evil"], ipAddresses: [], validDays: 1) }
    }

    @Test(arguments: ["", "A", "acme", "-ACME", "_ACME", "AC ME", "ACME!", "ÄCME", "ACME\n", String(repeating: "A", count: 33)])
    func badOrgCodesAreRejected(code: String) throws {
        let error = #expect(throws: PKIError.self) { try testCA().issueOrganisation(code: code, name: "x", validDays: 1) }
        guard case .invalidOrgCode(let rejected, let reason)? = error else {
            Issue.record("expected invalidOrgCode, got \(String(describing: error))")
            return
        }
        #expect(rejected == code)
        #expect(!reason.isEmpty)
        #expect(throws: PKIError.self) { try OrgCode.validate(code) }
    }

    @Test(arguments: ["AB", "ACME", "CITY-013", "X_1", "0A", String(repeating: "Z", count: 32)])
    func goodOrgCodesAreAccepted(code: String) throws {
        try OrgCode.validate(code)
        #expect(OrgCode.code(fromURI: OrgCode.uri(for: code)) == code)
    }

    @Test func orgCodeErrorsArePrecise() {
        #expect((try? OrgCode.validate("acme")) == nil)
        #expect(PKIError.invalidOrgCode(code: "x", reason: "r").description.contains("^[A-Z0-9][A-Z0-9_-]{1,31}$"))
        do {
            try OrgCode.validate("AC/ME")
            Issue.record("accepted AC/ME")
        } catch {
            #expect("\(error)".contains("character 3 \"/\""))
        }
    }
}
