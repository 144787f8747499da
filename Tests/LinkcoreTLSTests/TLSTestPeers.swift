// The TLS tests' peers, made with the shared TestPKI: a server certificate, organisation
// certificates in every state the server must tell apart, a second CA, and a CRL.

import Foundation
import LinkcorePKI
import LinkcoreTestSupport

struct TLSTestPeers: Sendable {
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
    static let shared: Result<TLSTestPeers, any Error> = Result { try TLSTestPeers.make() }

    static func make() throws -> TLSTestPeers {
        let directory = TestPKI.temporaryDirectory("linkcore-tls-tests")
        let day: TimeInterval = 86_400
        let orgURI = "urn:linkcore:org:\(orgCode)"
        let pki = try TestPKI(directory: directory, caDays: 30, server: false)
        let other = try TestPKI(directory: directory.appendingPathComponent("other"), caName: "other CA", caDays: 30, server: false)

        let revoked = try pki.client("org revoked", uris: [orgURI])
        // A URI that is not an org URI sits beside it and is ignored.
        let org = try pki.client("org TEST01", uris: ["https://example.org/test01", orgURI])
        try pki.writeCRL(revoking: [revoked.serialHex])

        return TLSTestPeers(
            directory: directory.path,
            caPath: pki.caPath,
            crlPath: pki.crlPath,
            server: try pki.save(pki.ca.issueServer(commonName: "localhost", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validDays: 20), as: "server"),
            org: try pki.save(org, as: "org"),
            orgSerialHex: org.serialHex,
            otherCAOrg: try pki.save(other.client("org other CA", uris: [orgURI]), as: "other-ca-org"),
            // A self-signed certificate that is not the network CA.
            selfSigned: try pki.save(CertificateAuthority.create(commonName: "self signed", validDays: 20).certificate, as: "self-signed"),
            expired: try pki.save(pki.client("org expired", uris: [orgURI], from: -10 * day, to: -day), as: "expired"),
            notYetValid: try pki.save(pki.client("org future", uris: [orgURI], from: day, to: 10 * day), as: "not-yet-valid"),
            revoked: try pki.save(revoked, as: "revoked"),
            noOrg: try pki.save(pki.client("no org", uris: ["https://example.org/x"]), as: "no-org"),
            lowerCaseOrg: try pki.save(pki.client("lower-case org", uris: ["urn:linkcore:org:test01"]), as: "lower-case-org"),
            twoOrgs: try pki.save(pki.client("two orgs", uris: [orgURI, "urn:linkcore:org:SECOND"]), as: "two-orgs")
        )
    }
}
