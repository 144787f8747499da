import Foundation
import LinkcorePKI
import LinkcoreTestSupport
import Testing

/// An RSA-2048 CA (the number card authority's, as JPKI) beside the network PKI's P-256 default:
/// what it signs is SHA-256 with RSA, read back by the openssl CLI; the default is unchanged.
@Suite struct RSACATests {
    @Test func anRSACASignsCardCertificatesOCSPSignersAndCRLsWithSHA256() async throws {
        let ca = try CertificateAuthority.create(commonName: "card CA", validDays: 3650, keyAlgorithm: .rsa2048, now: { issuedAt })
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let caFile = try dir.write("ca.pem", ca.certificate.certificatePEM)
        let caText = try await openssl(["x509", "-in", caFile, "-noout", "-text"]).output
        #expect(caText.contains("Public Key Algorithm: rsaEncryption") && caText.contains("Public-Key: (2048 bit)"), "\(caText)")
        #expect(caText.contains("Signature Algorithm: sha256WithRSAEncryption"))
        // Loading it back (the CLI's every command) accepts the RSA key.
        let loaded = try CertificateAuthority(certificatePEM: ca.certificate.certificatePEM, privateKeyPEM: ca.certificate.privateKeyPEM)

        // A leaf for a key held elsewhere, ending exactly when asked (a card's end).
        let holder = try CertificateAuthority.create(commonName: "holder key", validDays: 30)
        let keyFile = try dir.write("holder.key", holder.certificate.privateKeyPEM)
        let spkiDER = try await #require(FileManager.default.contents(atPath: try pubDER(keyFile, dir)))
        let notAfter = issuedAt.addingTimeInterval(100 * day)
        let leaf = try loaded.issueForPublicKey(publicKeyDER: Array(spkiDER), subject: [("C", "JP"), ("CN", "JPKI user 01")],
                                                nonRepudiation: false, notBefore: issuedAt, notAfter: notAfter)
        #expect(try CertificateInfo.parse(pem: leaf.certificatePEM).notAfter == notAfter)
        #expect(throws: PKIError.self) {
            try loaded.issueForPublicKey(publicKeyDER: Array(spkiDER), subject: [("CN", "x")], nonRepudiation: false,
                                         notBefore: notAfter, notAfter: issuedAt)
        }
        let signer = try loaded.issueOCSPSigner(commonName: "OCSP signer", validDays: 7)
        for (name, pem) in [("leaf", leaf.certificatePEM), ("signer", signer.certificatePEM)] {
            let file = try dir.write("\(name).pem", pem)
            #expect(try await openssl(["verify", "-CAfile", caFile, file]).output.contains("\(file): OK"))
            #expect(try await openssl(["x509", "-in", file, "-noout", "-text"]).output.contains("Signature Algorithm: sha256WithRSAEncryption"))
        }
        // The OCSP signer's own key stays EC P-256.
        #expect(try await openssl(["x509", "-in", try dir.write("s.pem", signer.certificatePEM), "-noout", "-text"]).output.contains("id-ecPublicKey"))

        let crl = try dir.write("crl.pem", try loaded.makeCRL(
            revoked: [RevokedCertificate(serialHex: leaf.serialHex, revocationDate: issuedAt, reasonCode: 4)],
            thisUpdate: issuedAt, nextUpdate: issuedAt.addingTimeInterval(day), crlNumber: 1))
        let crlText = try await openssl(["crl", "-in", crl, "-noout", "-text", "-CAfile", caFile]).output
        #expect(crlText.contains("verify OK") && crlText.contains("sha256WithRSAEncryption"), "\(crlText)")
    }

    @Test func theNetworkPKIKeepsItsP256CA() async throws {
        let ca = try CertificateAuthority.create(commonName: "network CA", validDays: 30)
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let text = try await openssl(["x509", "-in", try dir.write("ca.pem", ca.certificate.certificatePEM), "-noout", "-text"]).output
        #expect(text.contains("id-ecPublicKey") && text.contains("ecdsa-with-SHA256"))
    }

    /// The DER SubjectPublicKeyInfo of a PEM private key, as a file.
    func pubDER(_ keyFile: String, _ dir: TempDirectory) async throws -> String {
        let out = keyFile + ".spki"
        #expect(try await openssl(["pkey", "-in", keyFile, "-pubout", "-outform", "DER", "-out", out]).status == 0)
        return out
    }
}
