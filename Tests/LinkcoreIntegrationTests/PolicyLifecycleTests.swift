import Foundation
import LinkcoreWire
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// linkcored loading the shipped policy modules at start and on SIGHUP; a set that fails to load
/// leaves the previous one in force and says so in status.
@Suite(.serialized) struct PolicyLifecycleTests {
    static func policy(feesConfig: String = Products.sample("fees.toml")) -> String {
        Products.policyModules([("whitelist", Products.sample("whitelist.toml")), ("fees", feesConfig),
                                ("events", Products.sample("events.toml"))])
    }

    @Test func loadsAtStartAndKeepsTheSetWhenAReloadFails() async throws {
        let daemon = try DaemonProcess(extraConfig: ["policy": Self.policy()])
        try await daemon.start()
        let first = try await daemon.status().policyStatus
        #expect(first.hasPrefix("policy generation 1: whitelist whitelist 1.0.0, fees fees 1.0.0, events events 1.0.0"), "\(first)")

        let badFees = daemon.temp.url.appendingPathComponent("fees.toml").path
        try "public_free = 1\n".write(toFile: badFees, atomically: true, encoding: .utf8)
        let broken = DaemonProcess.config(
            temp: daemon.temp.url, pki: daemon.pki, extra: ["policy": Self.policy(feesConfig: badFees)])
        try broken.write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        let mark = daemon.notify.messages.count
        daemon.signal(SIGHUP)
        let ready = try await daemon.notify.wait(for: "READY=1", after: mark)
        #expect(ready.contains("reload FAILED"))
        let failed = try await daemon.status()
        #expect(failed.lastReloadError.contains("fees.toml:1"), "\(failed.lastReloadError)")
        #expect(failed.policyStatus.hasPrefix("policy generation 1:"), "\(failed.policyStatus)")
        #expect(failed.policyStatus.contains("last policy load FAILED"))

        // linkctl policy reload does what SIGHUP does, and says what is in force.
        let fixed = DaemonProcess.config(temp: daemon.temp.url, pki: daemon.pki, extra: ["policy": Self.policy()])
        try fixed.write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        let (status, text) = try await daemon.linkctl(["policy", "reload"])
        #expect(status == 0)
        #expect(text.hasPrefix("policy generation 2:"), "\(text)")
        let second = try await daemon.status()
        #expect(second.lastReloadError.isEmpty)
        #expect(second.policyStatus.hasPrefix("policy generation 2:"), "\(second.policyStatus)")
    }

    @Test func linkctlChecksAModuleBeforeItIsDeployed() async throws {
        let temp = try TempDirectory()
        func check(_ arguments: [String]) async throws -> (Int32, String) {
            try await runToExit(Products.path("linkctl"), ["policy", "check"] + arguments, outputDirectory: temp.url)
        }
        let module = Products.path("liblinkcore-policy-whitelist.so")
        let good = try await check(["--kind", "whitelist", "--module", module, "--config", Products.sample("whitelist.toml")])
        #expect(good.0 == 0)
        #expect(good.1.contains("ok: whitelist module whitelist 1.0.0"), "\(good.1)")
        let wrong = try await check(["--kind", "events", "--module", module])
        #expect(wrong.0 != 0)
        #expect(wrong.1.contains("is a whitelist module but is configured as events"), "\(wrong.1)")
    }

    @Test func aModuleThatCannotLoadStopsTheStartWithItsReason() async throws {
        let daemon = try DaemonProcess(extraConfig: [
            "policy": "[[policy.module]]\nkind = \"fees\"\npath = \"\(Products.path("liblinkcore-policy-whitelist.so"))\""
        ])
        try daemon.process.run()
        let code = try await daemon.waitForExit()
        #expect(code != 0)
        #expect(daemon.log.contains("is a whitelist module but is configured as fees"), "\(daemon.log)")
        #expect(!daemon.notify.messages.contains { $0.contains("READY=1") })
    }
}
