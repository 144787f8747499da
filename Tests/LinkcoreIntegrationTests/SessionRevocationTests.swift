import Foundation
import LinkcorePKI
import LinkcoreWire
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 12, finding 6: suspension and revocation reach sessions already open, and admission
/// holds per request, not only at Hello.
@Suite(.serialized) struct SessionRevocationTests {
    /// Before: a suspended portal kept reading access logs on its open session. Now
    /// `linkctl org suspend` ends the session with ORG_SUSPENDED (id 0) and closes it.
    @Test func suspendingAnOrganisationEndsItsOpenSessions() async throws {
        let daemon = try DaemonProcess(extraConfig: ["log": "level = \"info\""])
        try daemon.addOrg("PORTAL", role: .portal)
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let portal = try await daemon.raw(as: "PORTAL")
        try await portal.hello()
        let bystander = try await daemon.raw(as: "CITY01")
        try await bystander.hello()
        #expect(try await portal.fence(id: 2).isEmpty)

        let suspend = try await daemon.linkctl(["org", "suspend", "PORTAL"])
        #expect(suspend.status == 0, "\(suspend.output)")
        let (id, error) = try await portal.nextError()
        #expect(id == 0 && error.code == .orgSuspended)
        try await portal.waitClosed()
        // The suspended portal cannot come back, and other organisations are untouched.
        let again = try await daemon.raw(as: "PORTAL")
        try again.send(id: 1, RawPeer.hello())
        #expect(try await again.nextError().error.code == .orgSuspended)
        #expect(try await bystander.fence(id: 2).isEmpty)
    }

    /// Before: a suspended matcher could still issue links on its open session. Now its next
    /// request is refused with ORG_SUSPENDED (or the session has already ended) and no link
    /// is issued.
    @Test func aSuspendedMatcherIssuesNoLink() async throws {
        let daemon = try DaemonProcess(extraConfig: ["log": "level = \"info\""])
        try daemon.addOrg("MATCHER", role: .matcher)
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let matcher = try await daemon.raw(as: "MATCHER")
        try await matcher.hello()
        _ = try await daemon.admin(.orgSetSuspended(.with { $0.code = "MATCHER"; $0.suspended = true }))
        try? matcher.send(id: 5, .issueLink(.with {
            $0.residentCode = ConformanceTests.resident; $0.orgCode = "CITY01"; $0.matchingNumber = "M-SUSPENDED"
            $0.expiresAtMs = Int64(Date().timeIntervalSince1970 * 1000) + 600_000
        }))
        let (_, error) = try await matcher.nextError()
        #expect(error.code == .orgSuspended)
        try await matcher.waitClosed()
        let city = try await daemon.connect(as: "CITY01")
        do {
            _ = try await city.request(.fetchLink(.with { $0.matchingNumber = "M-SUSPENDED" }))
            Issue.record("a suspended matcher issued a link")
        } catch let refusal as WireError {
            #expect(refusal.code == .invalidMatchingNumber, "\(refusal)")
        }
        await city.close()
    }

    /// Before: a CITY01 revoked by CRL and reload kept pinging and fetching links. Now the
    /// reload ends the sessions of revoked certificates with CERTIFICATE_REJECTED (id 0).
    @Test func aCRLReloadEndsTheSessionsOfRevokedCertificates() async throws {
        let daemon = try DaemonProcess(extraConfig: ["log": "level = \"info\""])
        let revoked = try daemon.addOrg("CITY01")
        try daemon.addOrg("CITY02")
        try await daemon.start()
        let city = try await daemon.raw(as: "CITY01")
        try await city.hello()
        let bystander = try await daemon.raw(as: "CITY02")
        try await bystander.hello()

        try daemon.pki.write("crl.pem", try daemon.pki.ca.makeCRL(revokedSerials: [revoked.serialHex], nextUpdateDays: 7))
        daemon.signal(SIGHUP)
        let (id, error) = try await city.nextError()
        #expect(id == 0 && error.code == .certificateRejected)
        #expect(error.message.contains("revoked"), "\(error.message)")
        try await city.waitClosed()
        #expect(try await bystander.fence(id: 2).isEmpty)
    }
}
