import Foundation
import LinkcoreClient
import LinkcorePKI
import LinkcoreWire
import Testing
import LinkcoreTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// linkcored as systemd runs it: sd_notify over a real NOTIFY_SOCKET, socket activation through
/// systemd-socket-activate, SIGHUP reload, SIGTERM drain, config errors before READY.
@Suite(.serialized) struct LifecycleTests {
    @Test func notifiesReadyStatusWatchdogReloadingAndStopping() async throws {
        let daemon = try DaemonProcess(environment: ["WATCHDOG_USEC": "1000000"])
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let ready = try await daemon.notify.wait(for: "READY=1")
        #expect(ready.contains("STATUS="))
        try await daemon.notify.wait(for: "WATCHDOG=1")

        let beforeReload = daemon.notify.messages.count
        // CLOCK_MONOTONIC is system-wide: the daemon's reading lies between the test's reading before
        // the SIGHUP and its reading once RELOADING=1 arrived (an order, not a duration).
        let sent = Self.monotonicMicroseconds()
        daemon.signal(SIGHUP)
        let reloading = try await daemon.notify.wait(for: "RELOADING=1", after: beforeReload)
        let received = Self.monotonicMicroseconds()
        let monotonic = reloading.split(separator: "\n").first { $0.hasPrefix("MONOTONIC_USEC=") }
        let usec = monotonic.flatMap { UInt64($0.dropFirst("MONOTONIC_USEC=".count)) }
        #expect(usec.map { sent <= $0 && $0 <= received } == true, "MONOTONIC_USEC not within [\(sent), \(received)]: \(reloading)")
        try await daemon.notify.wait(for: "READY=1", after: beforeReload)

        let connection = try await daemon.connect(as: "CITY01")
        let beforeStop = daemon.notify.messages.count
        daemon.signal(SIGTERM)
        try await daemon.notify.wait(for: "STOPPING=1", after: beforeStop)
        try await connection.closeFuture.get()
        #expect(await connection.goingAway() != nil, "no GoingAway before the close")
        #expect(try await daemon.waitForExit() == 0)
    }

    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }

    @Test func servesOnASocketPassedBySystemdSocketActivate() async throws {
        let port = try freeLoopbackPort()
        let daemon = try DaemonProcess(launcher: ["/usr/bin/systemd-socket-activate", "-l", "127.0.0.1:\(port)", "-E", "NOTIFY_SOCKET"])
        daemon.activationPort = port
        try daemon.addOrg("CITY01")
        try await daemon.start()
        #expect(daemon.port == port)
        let connection = try await daemon.connect(as: "CITY01")
        guard case .pong? = try await connection.request(.ping(LCPing())) else { Issue.record("no pong"); return }
        await connection.close()
        #expect(daemon.log.contains("fd 3"), "the daemon did not report the inherited socket:\n\(daemon.log)")
    }

    @Test func sighupRotatesTheServerCertificateWithoutDroppingConnections() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let before = try await daemon.connect(as: "CITY01")
        let oldSerial = await before.serverIdentity()?.serialHex
        let rotated = try daemon.pki.issueServer(name: "server")
        let mark = daemon.notify.messages.count
        daemon.signal(SIGHUP)
        try await daemon.notify.wait(for: "RELOADING=1", after: mark)
        try await daemon.notify.wait(for: "READY=1", after: mark)

        guard case .pong? = try await before.request(.ping(LCPing())) else { Issue.record("old connection lost"); return }
        let after = try await daemon.connect(as: "CITY01")
        let newSerial = await after.serverIdentity()?.serialHex
        #expect(newSerial != nil && newSerial != oldSerial)
        #expect(newSerial?.lowercased() == rotated.serialHex.lowercased())
        #expect(try await daemon.status().lastReloadError.isEmpty)
        await before.close(); await after.close()
    }

    @Test func aBrokenConfigOnReloadKeepsTheRunningOne() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let broken = DaemonProcess.config(temp: daemon.temp.url, pki: daemon.pki, extra: ["limits": "max_in_flight = \"many\""])
        try broken.write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        let mark = daemon.notify.messages.count
        daemon.signal(SIGHUP)
        let ready = try await daemon.notify.wait(for: "READY=1", after: mark)
        #expect(ready.contains("reload FAILED"))
        let status = try await daemon.status()
        #expect(status.lastReloadError.contains("max_in_flight"))
        let connection = try await daemon.connect(as: "CITY01")
        guard case .pong? = try await connection.request(.ping(LCPing())) else { Issue.record("no pong"); return }
        await connection.close()
    }

    @Test func aBadConfigExitsBeforeReadyWithAPreciseMessage() async throws {
        let daemon = try DaemonProcess(extraConfig: ["limits": "max_in_flight = 0"])
        try daemon.process.run()
        let code = try await daemon.waitForExit()
        #expect(code != 0)
        #expect(daemon.log.contains("max_in_flight"), "\(daemon.log)")
        #expect(daemon.log.contains("linkcored.toml"), "\(daemon.log)")
        #expect(!daemon.notify.messages.contains { $0.contains("READY=1") })
    }

    @Test func theAdminSocketIsPrivateAndLinkctlReadsStatus() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let connection = try await daemon.connect(as: "CITY01")
        let attributes = try FileManager.default.attributesOfItem(atPath: daemon.adminSocket)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)

        let (status, text) = try await daemon.linkctl(["status"])
        #expect(status == 0)
        #expect(text.contains("connections: 1"), "\(text)")
        #expect(text.contains("CITY01"), "\(text)")
        await connection.close()
    }
}

