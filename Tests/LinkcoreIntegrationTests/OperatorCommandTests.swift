import Foundation
import LinkcoreWire
import Testing
import LinkcoreTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// What an operator types around the unit: `linkctl reload` (ExecReload=), `linkcored
/// --check-config` outside the unit, `linkctl keys master-init`, and what a bad config leaves in
/// STATUS= for `systemctl status`.
@Suite(.serialized) struct OperatorCommandTests {
    @Test func linkctlReloadWaitsForTheOutcomeAndFailsWithTheReason() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let peer = try await daemon.connect(as: "CITY01")

        let good = try await daemon.linkctl(["reload"])
        #expect(good.status == 0, "\(good.output)")

        let broken = DaemonProcess.config(temp: daemon.temp.url, pki: daemon.pki, extra: ["limits": "max_in_flight = \"many\""])
        try broken.write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        let line = try #require(broken.split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.hasPrefix("max_in_flight") }) + 1
        let bad = try await daemon.linkctl(["reload"])
        #expect(bad.status == 1, "\(bad.output)")
        #expect(bad.output.contains("linkcored.toml:\(line): [limits] max_in_flight"), "\(bad.output)")
        #expect(bad.output.contains("previous configuration stays in force"), "\(bad.output)")

        // The old configuration is still in force: the peer keeps its session, new peers get in.
        guard case .pong? = try await peer.request(.ping(LCPing())) else { Issue.record("the peer lost its session"); return }
        let another = try await daemon.connect(as: "CITY01")
        guard case .pong? = try await another.request(.ping(LCPing())) else { Issue.record("no new session"); return }
        #expect(try await daemon.status().lastReloadError.contains("max_in_flight"))
        await peer.close(); await another.close()
    }

    /// The admin socket serves operator requests only (the body table's category): a peer's
    /// request such as a mediation or a ping is refused with UNKNOWN_MESSAGE, never handed on.
    @Test func theAdminSocketRefusesWhatIsNotAnOperatorRequest() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("CITY01")
        try await daemon.start()
        for body: LCEnvelope.OneOf_Body in [.ping(LCPing()), .mediate(LCMediateRequest()), .fetchEvents(LCFetchEvents())] {
            do {
                let reply = try await daemon.admin(body)
                Issue.record("\(body) was answered on the admin socket: \(String(describing: reply))")
            } catch let error as WireError {
                #expect(error.code == .unknownMessage, "\(error)")
            }
        }
        guard case .status? = try await daemon.admin(.statusRequest(LCStatusRequest())) else {
            Issue.record("the admin socket stopped serving status"); return
        }
    }

    @Test func aBadConfigGoesIntoStatusBeforeExit78() async throws {
        let daemon = try DaemonProcess(extraConfig: ["limits": "max_in_flight = 0"])
        try daemon.process.run()
        #expect(try await daemon.waitForExit() == 78)
        // The datagram was sent before the exit; the reader may still be picking it up.
        try await eventually("no STATUS= on NOTIFY_SOCKET: \(daemon.notify.messages)") {
            daemon.notify.messages.contains { $0.hasPrefix("STATUS=") }
        }
        let status = daemon.notify.messages.first { $0.hasPrefix("STATUS=") } ?? ""
        #expect(status.hasPrefix("STATUS=cannot start: "), "\(daemon.notify.messages)")
        #expect(status.contains("linkcored.toml:") && status.contains("[limits] max_in_flight"), "\(status)")
        #expect(!daemon.notify.messages.contains { $0.contains("READY=1") })
    }

    @Test func checkConfigOutsideTheUnitReadsCredentialsFromCredentialsDir() async throws {
        let temp = try TempDirectory()
        let pkiDirectory = temp.url.appendingPathComponent("pki")
        try FileManager.default.createDirectory(at: pkiDirectory, withIntermediateDirectories: true)
        let pki = try TestPKI(directory: pkiDirectory)
        let credentials = temp.url.appendingPathComponent("credentials").path
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.copyItem(atPath: pki.path("server.key"), toPath: credentials + "/server.key")
        let made = try await run(Products.path("linkctl"), ["keys", "master-init", "--out", credentials + "/master.key"])
        #expect(made.status == 0, "\(made.output)")

        let state = temp.url.appendingPathComponent("state").path
        let config = temp.url.appendingPathComponent("linkcored.toml").path
        try tomlTables([
            ("core", ["state_directory = \"\(state)\""]),
            ("listen", ["addresses = [\"127.0.0.1:0\"]", "admin_socket = \"\(temp.url.path)/admin.sock\""]),
            ("tls", ["certificate = \"\(pki.path("server.pem"))\"", "private_key = \"credential:server.key\"",
                     "ca_bundle = \"\(pki.path("ca.pem"))\""]),
            ("keys", ["master_secret = \"credential:master.key\""]),
        ], extra: [:]).write(toFile: config, atomically: true, encoding: .utf8)

        let checked = try await run(Products.path("linkcored"), ["--check-config", "--config", config, "--credentials-dir", credentials])
        #expect(checked.status == 0, "\(checked.output)")
        #expect(checked.output.contains("private key, CA bundle: loaded"), "\(checked.output)")
        #expect(checked.output.contains("master_secret: readable"), "\(checked.output)")

        // Without the unit's $CREDENTIALS_DIRECTORY and without --credentials-dir: the rest is
        // checked, and the output says which credentials were not read.
        let unread = try await run(Products.path("linkcored"), ["--check-config", "--config", config])
        #expect(unread.status == 0, "\(unread.output)")
        #expect(unread.output.contains("private_key credential:server.key: configured, not read"), "\(unread.output)")
        #expect(unread.output.contains("master_secret credential:master.key: configured, not read"), "\(unread.output)")

        // A credentials directory without the key: refused, naming the file.
        let empty = temp.url.appendingPathComponent("empty").path
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let missing = try await run(Products.path("linkcored"), ["--check-config", "--config", config, "--credentials-dir", empty])
        #expect(missing.status == 78, "\(missing.output)")
        #expect(missing.output.contains(empty + "/server.key"), "\(missing.output)")

        // The check never opens (so never creates) the store.
        #expect(!FileManager.default.fileExists(atPath: state))
    }

    @Test func masterInitWrites32PrivateRandomBytesAndNeverOverwrites() async throws {
        let temp = try TempDirectory()
        let first = temp.url.appendingPathComponent("master.key").path
        let second = temp.url.appendingPathComponent("other.key").path
        for path in [first, second] {
            let made = try await run(Products.path("linkctl"), ["keys", "master-init", "--out", path])
            #expect(made.status == 0, "\(made.output)")
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: first)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let secret = try #require(FileManager.default.contents(atPath: first))
        #expect(secret.count == 32)
        #expect(secret != FileManager.default.contents(atPath: second))

        let again = try await run(Products.path("linkctl"), ["keys", "master-init", "--out", first])
        #expect(again.status == 1)
        #expect(again.output.contains("already exists"), "\(again.output)")
        #expect(FileManager.default.contents(atPath: first) == secret)
    }

    /// Runs a product to completion with the test's environment minus the unit's variables.
    private func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let temp = try TempDirectory()
        var environment = ProcessInfo.processInfo.environment
        for key in ["CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] { environment.removeValue(forKey: key) }
        return try await runToExit(executable, arguments, environment: environment, outputDirectory: temp.url)
    }
}
