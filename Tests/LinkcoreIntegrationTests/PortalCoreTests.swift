import Foundation
import LinkcoreWire
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// linkcore-portal's link to a real linkcored as the PORTAL organisation (issue 15, item 1):
/// the adapter's CoreSession, so the same reconnect after the core goes away.
@Suite struct PortalCoreTests {
    @Test func thePortalConnectsAsPORTALAndReconnectsAfterTheCoreRestarts() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("PORTAL", role: .portal)
        try await daemon.start()
        let temp = try TempDirectory()
        let portal = try PortalProcess(pki: daemon.pki, directory: temp.url.appendingPathComponent("portal"),
                                       core: "127.0.0.1:\(daemon.port)")
        try await portal.start()
        defer { portal.stop() }

        func coreLine() async throws -> String {
            try await portal.curl("/health").body.split(separator: "\n").last.map(String.init) ?? ""
        }
        try await eventually("the portal did not connect\n\(portal.log)\n\(daemon.log)") { try await coreLine() == "core: connected" }
        #expect(portal.log.contains("connected to the core"))
        #expect(daemon.log.contains("linkcore-portal/0.1"))  // its Hello names the portal, not the adapter

        // The core goes away: the portal says so, and is back once the core is.
        daemon.signal(SIGKILL)
        _ = try await daemon.waitForExit()
        try await eventually("the portal did not notice the lost core\n\(portal.log)") { try await coreLine() == "core: not connected" }
        try await daemon.restart()
        try await eventually("the portal did not reconnect\n\(portal.log)\n\(daemon.log)") { try await coreLine() == "core: connected" }
    }

    @Test func aCertificateNamingAnotherOrganisationIsNotTakenAsPORTAL() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("PORTAL", role: .portal)
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let temp = try TempDirectory()
        let portal = try PortalProcess(pki: daemon.pki, directory: temp.url.appendingPathComponent("portal"),
                                       core: "127.0.0.1:\(daemon.port)", coreIdentity: "CITY01")
        try await portal.start()
        defer { portal.stop() }
        try await eventually("the portal did not refuse CITY01's certificate\n\(portal.log)") {
            portal.log.contains("the certificate binds CITY01")
        }
        #expect(try await portal.curl("/health").body.hasSuffix("core: not connected\n"))
    }
}
