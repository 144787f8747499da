import Foundation
import LinkcorePKI
import LinkcoreTestSupport
import Testing

@Suite("CSR signing")
struct CSRTests {
    @Test func csrFromCompanyGetsTheOrgURI() async throws {
        let ca = try testCA()
        let request = try CSR.create(commonName: "Example Insurance Co.")
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let csrFile = try dir.write("req.csr", request.csrPEM)
        #expect(try await openssl(["req", "-in", csrFile, "-noout", "-verify"]).output.contains("verify OK"))

        let certPEM = try ca.sign(csrPEM: request.csrPEM, orgCode: "INS-042", validDays: 365)
        let info = try CertificateInfo.parse(pem: certPEM)
        #expect(info.sanURIs == ["urn:linkcore:org:INS-042"])
        #expect(info.orgCode == "INS-042")
        #expect(info.subject == "O=INS-042,CN=Example Insurance Co.")
        #expect(info.extendedKeyUsage == ["clientAuth"])
        #expect(!info.isCA)

        let caFile = try dir.write("ca.pem", ca.certificate.certificatePEM)
        let certFile = try dir.write("cert.pem", certPEM)
        #expect(try await openssl(["verify", "-CAfile", caFile, "-purpose", "sslclient", certFile]).status == 0)
        // The certificate certifies the company's key.
        let certKey = try await openssl(["x509", "-in", certFile, "-noout", "-pubkey"]).output
        let keyPub = try await openssl(["pkey", "-pubout"], stdin: request.privateKeyPEM).output
        #expect(certKey == keyPub)
    }

    @Test func requestedExtensionsAreIgnored() async throws {
        // A CSR made with the openssl CLI that asks for another org's URI and CA powers.
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let keyFile = dir.path + "/evil.key"
        let csrFile = dir.path + "/evil.csr"
        let made = try await openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                "-keyout", keyFile, "-out", csrFile, "-subj", "/CN=Evil/O=OTHER",
                                "-addext", "subjectAltName=URI:urn:linkcore:org:OTHER,DNS:bank.example",
                                "-addext", "basicConstraints=critical,CA:TRUE",
                                "-addext", "extendedKeyUsage=serverAuth"])
        #expect(made.status == 0, "\(made.output)")
        let certPEM = try testCA().sign(csrPEM: try String(contentsOfFile: csrFile, encoding: .utf8), orgCode: "SMALL", validDays: 30)
        let info = try CertificateInfo.parse(pem: certPEM)
        #expect(info.sanURIs == ["urn:linkcore:org:SMALL"])
        #expect(info.dnsNames.isEmpty)
        #expect(!info.isCA)
        #expect(info.extendedKeyUsage == ["clientAuth"])
        #expect(info.subject == "O=SMALL,CN=Evil")
    }

    @Test func tamperedCSRIsRefused() throws {
        let request = try CSR.create(commonName: "Acme Corporation")
        // Flip one letter of the signed subject inside the DER, keeping the PEM well-formed.
        let body = request.csrPEM.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        var der = try #require(Data(base64Encoded: body))
        let needle = Data("Acme".utf8)
        let range = try #require(der.range(of: needle))
        der[range.lowerBound] = UInt8(ascii: "X")
        let lines = der.base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        let tampered = "-----BEGIN CERTIFICATE REQUEST-----\n\(lines)\n-----END CERTIFICATE REQUEST-----\n"

        let error = #expect(throws: PKIError.self) { try testCA().sign(csrPEM: tampered, orgCode: "ACME", validDays: 30) }
        guard case .csrSignatureInvalid? = error else {
            Issue.record("expected csrSignatureInvalid, got \(String(describing: error))")
            return
        }
        #expect(error?.description.contains("does not verify") == true)
    }

    @Test func garbageAndBadCodesAreRefused() throws {
        let notPEM = #expect(throws: PKIError.self) { try testCA().sign(csrPEM: "hello", orgCode: "ACME", validDays: 30) }
        #expect(notPEM?.description.hasPrefix("not a PEM certificate signing request") == true)
        let request = try CSR.create(commonName: "x")
        let bad = #expect(throws: PKIError.self) { try testCA().sign(csrPEM: request.csrPEM, orgCode: "acme", validDays: 30) }
        guard case .invalidOrgCode? = bad else {
            Issue.record("expected invalidOrgCode, got \(String(describing: bad))")
            return
        }
    }

    @Test func weakRSAKeysAreRefused() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let csrFile = dir.path + "/weak.csr"
        let made = try await openssl(["req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", dir.path + "/weak.key",
                                "-out", csrFile, "-subj", "/CN=Weak"])
        #expect(made.status == 0, "\(made.output)")
        let error = #expect(throws: PKIError.self) {
            try testCA().sign(csrPEM: try String(contentsOfFile: csrFile, encoding: .utf8), orgCode: "WEAK", validDays: 30)
        }
        #expect(error == .weakKey(securityBits: 80))
    }
}
