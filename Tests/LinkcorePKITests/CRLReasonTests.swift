import Foundation
import LinkcorePKI
import LinkcoreTestSupport
import Testing

/// CRL entries with a reason code (the number card authority's CRL, issue 14) and an explicit
/// nextUpdate, read back by the openssl CLI.
@Suite struct CRLReasonTests {
    @Test func entriesCarryTheirReasonCodeAndUnspecifiedIsLeftOut() async throws {
        let ca = try testCA()
        let held = try ca.issueOrganisation(code: "HELD", name: "Held", validDays: 30)
        let moved = try ca.issueOrganisation(code: "MOVED", name: "Moved", validDays: 30)
        let plain = try ca.issueOrganisation(code: "PLAIN", name: "Plain", validDays: 30)
        let thisUpdate = issuedAt
        let crlPEM = try ca.makeCRL(revoked: [
            RevokedCertificate(serialHex: held.serialHex, revocationDate: thisUpdate, reasonCode: 6),
            RevokedCertificate(serialHex: moved.serialHex, revocationDate: thisUpdate, reasonCode: 3),
            RevokedCertificate(serialHex: plain.serialHex, revocationDate: thisUpdate, reasonCode: 0),
        ], thisUpdate: thisUpdate, nextUpdate: thisUpdate.addingTimeInterval(6 * 3600), crlNumber: 7)
        let crl = try CRLInfo.parse(pem: crlPEM)
        #expect(crl.crlNumber == 7)
        #expect(crl.nextUpdate == thisUpdate.addingTimeInterval(6 * 3600))
        #expect(Set(crl.revokedSerials) == [held.serialHex, moved.serialHex, plain.serialHex])

        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let crlFile = try dir.write("crl.pem", crlPEM)
        let text = try await openssl(["crl", "-in", crlFile, "-noout", "-text"]).output
        #expect(text.contains("Certificate Hold"))
        #expect(text.contains("Affiliation Changed"))
        // Two reason extensions for three entries: unspecified (0) is written as none.
        #expect(text.components(separatedBy: "X509v3 CRL Reason Code").count - 1 == 2)
        #expect(try await openssl(["crl", "-in", crlFile, "-noout", "-CAfile", try dir.write("ca.pem", ca.certificate.certificatePEM)])
            .output.contains("verify OK"))
    }

    @Test func badReasonCodesAndTimesAreRefused() throws {
        let ca = try testCA()
        for code in [7, 11, -1] {
            #expect(throws: PKIError.self) {
                try ca.makeCRL(revoked: [RevokedCertificate(serialHex: "4A", revocationDate: issuedAt, reasonCode: code)],
                               thisUpdate: issuedAt, nextUpdate: issuedAt.addingTimeInterval(3600), crlNumber: 1)
            }
        }
        #expect(throws: PKIError.self) {
            try ca.makeCRL(revoked: [], thisUpdate: issuedAt, nextUpdate: issuedAt, crlNumber: 1)
        }
    }
}
