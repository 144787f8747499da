import Foundation
import LinkcoreClient
import LinkcorePKI
import LinkcoreRegistry
import LinkcoreTLS
import LinkcoreWire
import Testing

/// Issue 12, finding 13: revocation checked the leaf only, clients never checked the core's
/// revocation, and an expiring CRL refused every peer without warning.
@Suite(.serialized) struct RevocationTests {
    /// Before: a CRL that revokes the CA itself changed nothing (CRL_CHECK looks at the leaf).
    /// Now: every certificate of the chain is checked (CRL_CHECK_ALL).
    @Test func aRevokedCAIsRefusedAtEveryLevelOfTheChain() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("CITY01")
        let caSerial = try CertificateInfo.parse(pem: daemon.pki.ca.certificate.certificatePEM).serialHex
        try daemon.pki.write("crl.pem", try daemon.pki.ca.makeCRL(revokedSerials: [caSerial], nextUpdateDays: 7))
        try await daemon.start()
        do {
            let connection = try await daemon.connect(as: "CITY01")
            await connection.close()
            Issue.record("a certificate under a revoked CA was accepted")
        } catch let error as WireError {
            #expect(error.code == .certificateRejected, "\(error)")
            #expect(error.message.localizedCaseInsensitiveContains("revoked"), "\(error.message)")
        }
    }

    /// Before: an adapter had no way to check the core's revocation. Now `--crl` (and
    /// `[core] crl`) refuse a core whose certificate the network CA revoked.
    @Test func anAdapterWithTheCRLRefusesARevokedCore() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let serverSerial = try CertificateInfo.parse(pem: String(contentsOfFile: daemon.pki.path("server.pem"), encoding: .utf8)).serialHex
        try daemon.pki.write("core-revoked.crl", try daemon.pki.ca.makeCRL(revokedSerials: [serverSerial], nextUpdateDays: 7))
        let codes = daemon.temp.url.appendingPathComponent("codes").path
        try "00000000000000000000000000\n".write(toFile: codes, atomically: true, encoding: .utf8)

        func ask(crl: String) async throws -> (Int32, String) {
            try await runToExit(Products.path("linkcore-adapter"), [
                "ask", "--core", "127.0.0.1:\(daemon.port)", "--certificate", daemon.pki.path("CITY01.pem"),
                "--private-key", daemon.pki.path("CITY01.key"), "--ca-bundle", daemon.pki.path("ca.pem"), "--crl", crl,
                "--bp", "BP-TAX", "--provider", "TAX01", "--info", "income", "--codes", codes,
            ], outputDirectory: daemon.temp.url)
        }
        let refused = try await ask(crl: daemon.pki.path("core-revoked.crl"))
        #expect(refused.0 != 0 && refused.1.localizedCaseInsensitiveContains("revoked"), "\(refused.1)")
        // The network's current CRL (nothing revoked): the adapter connects and gets its answer
        // (a refusal of the made-up link code, not a TLS failure).
        let accepted = try await ask(crl: daemon.pki.path("crl.pem"))
        #expect(!accepted.1.localizedCaseInsensitiveContains("revoked"), "\(accepted.1)")
        #expect(accepted.1.contains("\"outcome\""), "\(accepted.1)")
    }

    /// Before: a CRL running out gave no sign until every peer was refused. Now the daemon warns
    /// from `[tls] crl_warn_before_ms` before its nextUpdate: log, STATUS, `linkctl status`.
    @Test func theCoreWarnsBeforeItsCRLRunsOut() async throws {
        let daemon = try DaemonProcess(extraConfig: ["tls": "crl_warn_before_ms = 172800000"])
        // Issued at a fixed instant (whole seconds, as a CRL stores them): the status shows exactly its nextUpdate.
        let thisUpdate = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        try daemon.pki.write("crl.pem", try daemon.pki.ca.makeCRL(revoked: [], nextUpdateDays: 1, crlNumber: nil, thisUpdate: thisUpdate))
        try await daemon.start()
        let status = try await daemon.status()
        #expect(status.crlWarning.contains("runs out"), "\(status.crlWarning)")
        let nextUpdateMs = Int64(thisUpdate.timeIntervalSince1970) * 1000 + 86_400_000  // a fixed instant, not a duration
        #expect(status.crlNextUpdateMs == nextUpdateMs)
        #expect(daemon.log.contains("CRL runs out soon"), "\(daemon.log)")
        #expect(daemon.notify.messages.contains { $0.contains("CRL: the CRL") && $0.contains("runs out") })
        let (_, shown) = try await daemon.linkctl(["status"])
        #expect(shown.contains("crl: next update") && shown.contains("WARNING"), "\(shown)")

        // A renewed CRL clears it.
        try daemon.pki.write("crl.pem", try daemon.pki.ca.makeCRL(revokedSerials: [], nextUpdateDays: 30))
        guard case let .reloadResponse(reload)? = try await daemon.admin(.reload(LCReloadRequest())) else {
            Issue.record("no reload response"); return
        }
        #expect(reload.ok, "\(reload.error)")
        #expect(try await daemon.status().crlWarning.isEmpty)
    }

    /// The matcher, a TLS server of the same network, warns the same way (log and STATUS).
    @Test func theMatcherWarnsBeforeItsCRLRunsOut() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("MATCHER", role: .matcher)
        try daemon.pki.write("crl.pem", try daemon.pki.ca.makeCRL(revokedSerials: [], nextUpdateDays: 1))
        try await daemon.start()
        let registryPath = daemon.temp.url.appendingPathComponent("registry.sqlite").path
        _ = try RegistryStore(path: registryPath)
        let matcher = try MatcherProcess(pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("matcher"),
                                         corePort: daemon.port, registryPath: registryPath,
                                         extraConfig: ["tls": "crl_warn_before_ms = 172800000"])
        try await matcher.start()
        #expect(matcher.notify.messages.contains { $0.contains("CRL: the CRL") && $0.contains("runs out") }, "\(matcher.notify.messages)")
        #expect(matcher.log.contains("CRL runs out soon"), "\(matcher.log)")
    }
}
