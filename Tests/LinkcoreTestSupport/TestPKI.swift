// A throwaway PKI for the TLS tests, made with LinkcorePKI: a CA, a server certificate,
// organisation certificates in every state the server must tell apart, a second CA, and a CRL.

import Foundation
import LinkcorePKI

/// PEM paths of a certificate (chain) and key.
struct TestIdentity: Sendable {
    var certificatePath: String
    var keyPath: String
}

struct TestPKI: Sendable {
    static let orgCode = "TEST01"

    var directory: String
    var caPath: String
    var crlPath: String
    var server: TestIdentity
    var org: TestIdentity
    var orgSerialHex: String
    var otherCAOrg: TestIdentity
    var selfSigned: TestIdentity
    var expired: TestIdentity
    var notYetValid: TestIdentity
    var revoked: TestIdentity
    var noOrg: TestIdentity
    var lowerCaseOrg: TestIdentity
    var twoOrgs: TestIdentity

    /// Generated once per test process.
    static let shared: Result<TestPKI, any Error> = Result { try TestPKI.make() }

    static func make() throws -> TestPKI {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("linkcore-tls-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let day: TimeInterval = 86_400
        let now = Date()
        let orgURI = "urn:linkcore:org:\(orgCode)"

        let ca = try CertificateAuthority.create(commonName: "linkcore test CA", validDays: 30)
        let otherCA = try CertificateAuthority.create(commonName: "other CA", validDays: 30)
        func client(_ issuer: CertificateAuthority, _ name: String, uris: [String] = [orgURI],
                    from: TimeInterval = -60, to: TimeInterval = 20 * day) throws -> PEMCertificate {
            try issuer.issueClient(commonName: name, sanURIs: uris,
                                   notBefore: now.addingTimeInterval(from), notAfter: now.addingTimeInterval(to))
        }
        func save(_ certificate: PEMCertificate, _ name: String) throws -> TestIdentity {
            let identity = TestIdentity(certificatePath: "\(directory)/\(name).pem", keyPath: "\(directory)/\(name).key")
            try certificate.certificatePEM.write(toFile: identity.certificatePath, atomically: true, encoding: .utf8)
            try certificate.privateKeyPEM.write(toFile: identity.keyPath, atomically: true, encoding: .utf8)
            return identity
        }

        let revoked = try client(ca, "org revoked")
        // A URI that is not an org URI sits beside it and is ignored.
        let org = try client(ca, "org TEST01", uris: ["https://example.org/test01", orgURI])
        let caPath = "\(directory)/ca.pem"
        try ca.certificate.certificatePEM.write(toFile: caPath, atomically: true, encoding: .utf8)
        let crlPath = "\(directory)/crl.pem"
        try ca.makeCRL(revokedSerials: [revoked.serialHex], nextUpdateDays: 7).write(toFile: crlPath, atomically: true, encoding: .utf8)

        return TestPKI(
            directory: directory,
            caPath: caPath,
            crlPath: crlPath,
            server: try save(ca.issueServer(commonName: "localhost", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validDays: 20), "server"),
            org: try save(org, "org"),
            orgSerialHex: org.serialHex,
            otherCAOrg: try save(client(otherCA, "org other CA"), "other-ca-org"),
            // A self-signed certificate that is not the network CA.
            selfSigned: try save(CertificateAuthority.create(commonName: "self signed", validDays: 20).certificate, "self-signed"),
            expired: try save(client(ca, "org expired", from: -10 * day, to: -day), "expired"),
            notYetValid: try save(client(ca, "org future", from: day, to: 10 * day), "not-yet-valid"),
            revoked: try save(revoked, "revoked"),
            noOrg: try save(client(ca, "no org", uris: ["https://example.org/x"]), "no-org"),
            lowerCaseOrg: try save(client(ca, "lower-case org", uris: ["urn:linkcore:org:test01"]), "lower-case-org"),
            twoOrgs: try save(client(ca, "two orgs", uris: [orgURI, "urn:linkcore:org:SECOND"]), "two-orgs")
        )
    }
}
