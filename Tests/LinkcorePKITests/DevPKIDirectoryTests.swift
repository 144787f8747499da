import Foundation
import LinkcorePKI
import LinkcoreTestSupport
import Testing

@Suite("Dev PKI directory")
struct DevPKIDirectoryTests {
    @Test func initCreatesFilesWithTightModes() async throws {
        let tmp = try TempDirectory()
        defer { tmp.cleanup() }
        let pki = DevPKIDirectory(path: tmp.path + "/pki")
        let result = try pki.initialise(serverName: "localhost", serverIPs: ["127.0.0.1", "::1"])
        for file in [pki.caCertificatePath, pki.caKeyPath, pki.serverCertificatePath, pki.serverKeyPath, pki.crlPath, pki.indexPath] {
            #expect(FileManager.default.fileExists(atPath: file), "\(file)")
        }
        #expect(try mode(of: pki.path) == 0o700)
        #expect(try mode(of: pki.orgsPath) == 0o700)
        #expect(try mode(of: pki.caKeyPath) == 0o600)
        #expect(try mode(of: pki.serverKeyPath) == 0o600)
        #expect(result.server.dnsNames == ["localhost"])
        #expect(result.server.ipAddresses == ["127.0.0.1", "::1"])
        #expect(result.server.extendedKeyUsage == ["serverAuth"])
        #expect(result.ca.isCA)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: pki.path).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)

        let verify = try await openssl(["verify", "-crl_check", "-CAfile", pki.caCertificatePath, "-CRLfile", pki.crlPath, pki.serverCertificatePath])
        #expect(verify.status == 0, "\(verify.output)")
        let index = try pki.readIndex()
        #expect(index.issued.map(\.kind) == [.ca, .server])
        #expect(index.revoked.isEmpty)
        #expect(index.crlNumber == 1)
        #expect(try CRLInfo.parse(pem: try String(contentsOfFile: pki.crlPath, encoding: .utf8)).crlNumber == 1)
        #expect(try pki.loadCA().certificate.serialHex == result.ca.serialHex)
    }

    @Test func ipServerNameGoesIntoTheIPSAN() throws {
        let tmp = try TempDirectory()
        defer { tmp.cleanup() }
        let result = try DevPKIDirectory(path: tmp.path).initialise(serverName: "10.1.2.3", serverDNSNames: ["core.internal"], serverIPs: ["127.0.0.1"])
        #expect(result.server.subject == "CN=10.1.2.3")
        #expect(result.server.ipAddresses == ["10.1.2.3", "127.0.0.1"])
        #expect(result.server.dnsNames == ["core.internal"])
    }

    @Test func reinitRefusesWithoutForce() async throws {
        let tmp = try TempDirectory()
        defer { tmp.cleanup() }
        let pki = DevPKIDirectory(path: tmp.path)
        let first = try pki.initialise()
        try pki.issueOrganisation(code: "ACME", name: "Acme")
        #expect(throws: PKIError.caAlreadyExists(path: pki.caCertificatePath)) { try pki.initialise() }
        #expect(try pki.loadCA().certificate.serialHex == first.ca.serialHex)

        let second = try pki.initialise(force: true)
        #expect(second.ca.serialHex != first.ca.serialHex)
        #expect(!FileManager.default.fileExists(atPath: pki.organisationCertificatePath("ACME")))
        #expect(try pki.readIndex().issued.count == 2)
    }

    @Test func issueAndRevokeUpdateIndexAndCRL() async throws {
        let tmp = try TempDirectory()
        defer { tmp.cleanup() }
        let pki = DevPKIDirectory(path: tmp.path + "/pki", now: { issuedAt })
        try pki.initialise()
        let acme = try pki.issueOrganisation(code: "ACME", name: "Acme Corp", validDays: 30)
        let city = try pki.issueOrganisation(code: "CITY-013", name: "City 13")
        #expect(try mode(of: pki.organisationKeyPath("ACME")) == 0o600)
        #expect(try String(contentsOfFile: pki.organisationCertificatePath("ACME"), encoding: .utf8) == acme.certificatePEM)

        var index = try pki.readIndex()
        let entry = try #require(index.issued.first { $0.serial == acme.serialHex })
        #expect(entry.code == "ACME")
        #expect(entry.kind == .organisation)
        #expect(entry.subject == "O=ACME,CN=Acme Corp")
        #expect(entry.notBefore == issuedAt)
        #expect(entry.notAfter == issuedAt.addingTimeInterval(30 * day))

        // A second unrevoked certificate needs --force.
        #expect(throws: PKIError.organisationHasCertificate(code: "ACME", serialHex: acme.serialHex)) {
            try pki.issueOrganisation(code: "ACME", name: "Acme Corp")
        }

        let revokedSerial = try pki.revokeOrganisation(code: "ACME")
        #expect(revokedSerial == acme.serialHex)
        index = try pki.readIndex()
        #expect(index.revoked.map(\.serial) == [acme.serialHex])
        #expect(index.revoked.map(\.revokedAt) == [issuedAt])
        #expect(index.crlNumber == 2)
        let crl = try CRLInfo.parse(pem: try String(contentsOfFile: pki.crlPath, encoding: .utf8))
        #expect(crl.revokedSerials == [acme.serialHex])
        #expect(crl.crlNumber == 2)

        let revoked = try await openssl(["verify", "-crl_check", "-CAfile", pki.caCertificatePath, "-CRLfile", pki.crlPath, pki.organisationCertificatePath("ACME")])
        #expect(revoked.status != 0)
        #expect(revoked.output.contains("certificate revoked"))
        let fine = try await openssl(["verify", "-crl_check", "-CAfile", pki.caCertificatePath, "-CRLfile", pki.crlPath, pki.organisationCertificatePath("CITY-013")])
        #expect(fine.status == 0, "\(fine.output)")
        _ = city

        #expect(throws: PKIError.alreadyRevoked(code: "ACME", serialHex: acme.serialHex)) { try pki.revokeOrganisation(code: "ACME") }
        #expect(throws: PKIError.unknownOrganisation(code: "NOBODY", directory: pki.path)) { try pki.revokeOrganisation(code: "NOBODY") }

        // After revocation a new certificate may be issued without --force; the CRL keeps the old serial.
        let renewed = try pki.issueOrganisation(code: "ACME", name: "Acme Corp")
        #expect(renewed.serialHex != acme.serialHex)
        #expect(try await openssl(["verify", "-crl_check", "-CAfile", pki.caCertificatePath, "-CRLfile", pki.crlPath, pki.organisationCertificatePath("ACME")]).status == 0)

        try pki.regenerateCRL(crlDays: 3)
        let regenerated = try CRLInfo.parse(pem: try String(contentsOfFile: pki.crlPath, encoding: .utf8))
        #expect(regenerated.crlNumber == 3)
        #expect(regenerated.revokedSerials == [acme.serialHex])
        #expect(regenerated.lastUpdate == issuedAt)
        #expect(regenerated.nextUpdate == issuedAt.addingTimeInterval(3 * day))
        #expect(try pki.readIndex().crlNumber == 3)
    }

    @Test func signCSRRecordsTheCertificateWithoutAKey() throws {
        let tmp = try TempDirectory()
        defer { tmp.cleanup() }
        let pki = DevPKIDirectory(path: tmp.path)
        try pki.initialise()
        let request = try CSR.create(commonName: "Private Co")
        let certPEM = try pki.signCSR(csrPEM: request.csrPEM, orgCode: "PRIV-1")
        #expect(try CertificateInfo.parse(pem: certPEM).orgCode == "PRIV-1")
        #expect(FileManager.default.fileExists(atPath: pki.organisationCertificatePath("PRIV-1")))
        #expect(!FileManager.default.fileExists(atPath: pki.organisationKeyPath("PRIV-1")))
        let entry = try #require(try pki.readIndex().issued.last)
        #expect(entry.code == "PRIV-1")
        #expect(entry.fromCSR == true)
        #expect(try pki.revokeOrganisation(code: "PRIV-1") == CertificateInfo.parse(pem: certPEM).serialHex)
    }

    @Test func operationsOnAnEmptyDirectoryExplainWhatToDo() throws {
        let tmp = try TempDirectory()
        defer { tmp.cleanup() }
        let pki = DevPKIDirectory(path: tmp.path + "/missing")
        let error = #expect(throws: PKIError.self) { try pki.issueOrganisation(code: "ACME", name: "Acme") }
        #expect(error == .notInitialised(directory: pki.path))
        #expect(error?.description.contains("linkctl pki init") == true)
        #expect(throws: PKIError.notInitialised(directory: pki.path)) { try pki.regenerateCRL() }
    }

    @Test func badOrgCodeIsRejectedBeforeAnyWrite() throws {
        let tmp = try TempDirectory()
        defer { tmp.cleanup() }
        let pki = DevPKIDirectory(path: tmp.path)
        try pki.initialise()
        let error = #expect(throws: PKIError.self) { try pki.issueOrganisation(code: "../ETC", name: "x") }
        guard case .invalidOrgCode? = error else {
            Issue.record("expected invalidOrgCode, got \(String(describing: error))")
            return
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: pki.orgsPath).isEmpty)
        #expect(try pki.readIndex().issued.count == 2)
    }
}
