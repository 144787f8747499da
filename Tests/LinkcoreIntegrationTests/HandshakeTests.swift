import Foundation
import LinkcoreClient
import LinkcorePKI
import LinkcoreWire
import Testing

/// Every refused peer gets a typed error it can read before the connection closes, and the
/// refusal is logged by the daemon. Real daemon process, real certificates, real sockets.
@Suite(.serialized) struct HandshakeTests {
    private func expectRefusal(_ daemon: DaemonProcess, as name: String?, hello: LCHello = LinkcoreConnection.defaultHello(software: "test"),
                               code: LCErrorCode, reason: String) async throws {
        do {
            let connection = try await daemon.connect(as: name, hello: hello)
            await connection.close()
            Issue.record("\(name ?? "no certificate") was accepted; expected \(code)")
        } catch let error as WireError {
            #expect(error.code == code, "\(error)")
            #expect(error.message.localizedCaseInsensitiveContains(reason), "\(error.message)")
        }
    }

    @Test func refusesEachBadCertificateWithATypedError() async throws {
        let daemon = try DaemonProcess()
        let pki = daemon.pki
        // A certificate from another CA that looks right in every other way.
        let otherCA = try CertificateAuthority.create(commonName: "someone else's CA", validDays: 60)
        let foreign = try otherCA.issueOrganisation(code: "CITY01", name: "Impostor", validDays: 30)
        try pki.write("foreign.pem", foreign.certificatePEM); try pki.write("foreign.key", foreign.privateKeyPEM)
        let expired = try pki.ca.issueClient(commonName: "expired", sanURIs: ["urn:linkcore:org:OLD01"],
                                             notBefore: Date(timeIntervalSinceNow: -86_400 * 10), notAfter: Date(timeIntervalSinceNow: -86_400))
        try pki.write("expired.pem", expired.certificatePEM); try pki.write("expired.key", expired.privateKeyPEM)
        let anonymous = try pki.ca.issueClient(commonName: "no org", sanURIs: [],
                                               notBefore: Date(timeIntervalSinceNow: -60), notAfter: Date(timeIntervalSinceNow: 86_400))
        try pki.write("anonymous.pem", anonymous.certificatePEM); try pki.write("anonymous.key", anonymous.privateKeyPEM)
        let revoked = try daemon.addOrg("GONE01")
        try pki.write("crl.pem", try pki.ca.makeCRL(revokedSerials: [revoked.serialHex], nextUpdateDays: 7))
        try daemon.addOrg("CITY01")
        try await daemon.start()

        try await expectRefusal(daemon, as: nil, code: .certificateRejected, reason: "missing")
        try await expectRefusal(daemon, as: "foreign", code: .certificateRejected, reason: "untrusted")
        try await expectRefusal(daemon, as: "expired", code: .certificateRejected, reason: "expired")
        try await expectRefusal(daemon, as: "GONE01", code: .certificateRejected, reason: "revoked")
        try await expectRefusal(daemon, as: "anonymous", code: .certificateRejected, reason: "organisation")
        try await expectRefusal(daemon, as: "CITY01", hello: LinkcoreConnection.defaultHello(software: "test", orgCode: "TAX01"),
                                code: .orgMismatch, reason: "TAX01")

        // The good certificate still works, and the daemon counted and logged every refusal.
        let good = try await daemon.connect(as: "CITY01")
        #expect(good.welcome?.orgCode == "CITY01")
        await good.close()
        let status = try await daemon.status()
        #expect(status.handshakeFailures == 5)
        let log = daemon.log
        for reason in ["missing", "untrusted", "expired", "revoked", "no organisation", "claims another organisation"] {
            #expect(log.contains(reason), "log lacks \(reason)")
        }
    }

    @Test func refusesAnUnsupportedVersionAndAMissingHello() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("CITY01")
        try await daemon.start()
        var future = LinkcoreConnection.defaultHello(software: "test")
        future.minVersion = 7; future.maxVersion = 9
        try await expectRefusal(daemon, as: "CITY01", hello: future, code: .unsupportedVersion, reason: "versions 1-1")

        let raw = try await daemon.connect(as: "CITY01", hello: nil)
        do {
            _ = try await raw.request(.ping(LCPing()))
            Issue.record("a ping before Hello was answered")
        } catch let error as WireError {
            #expect(error.code == .helloRequired)
        }
        try await raw.closeFuture.get()
    }
}
