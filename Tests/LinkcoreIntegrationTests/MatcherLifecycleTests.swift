import Foundation
import LinkcoreClient
import LinkcoreRegistry
import LinkcoreWire
import Testing
import LinkcoreTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// linkcore-matcher as systemd runs it: sd_notify over a real NOTIFY_SOCKET the test owns,
/// READY=1 only once it listens and the core answers, STATUS= figures, STOPPING=1 and a drain on
/// SIGTERM, and a bad configuration refused with exit status 78 before READY.
@Suite(.serialized) struct MatcherLifecycleTests {
    /// A registry file with alice and the twins, in `directory`.
    func registry(in directory: URL) throws -> String {
        let path = directory.appendingPathComponent("registry.sqlite").path
        try RegistryStore(path: path).insert([LinkIssuanceTests.alice, LinkIssuanceTests.twinA, LinkIssuanceTests.twinB])
        return path
    }

    @Test func readyOnlyOnceLinkedToTheCoreThenStatusFiguresThenStoppingWithADrain() async throws {
        // The core's port is fixed in advance so that the matcher can start before the core does.
        let corePort = try freeLoopbackPort()
        let daemon = try DaemonProcess(extraConfig: ["listen": "addresses = [\"127.0.0.1:\(corePort)\"]"])
        try daemon.addOrg("MATCHER", role: .matcher)
        try daemon.addOrg("CITY01")
        let matcher = try MatcherProcess(pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("matcher"),
                                         corePort: corePort, registryPath: try registry(in: daemon.temp.url),
                                         environment: ["WATCHDOG_USEC": "1000000"])
        try matcher.process.run()

        // It listens at once, but says it is waiting for the core and is not ready.
        try await matcher.waitForPort()
        let waiting = try await matcher.notify.waitForStatus(containing: "waiting for the core at 127.0.0.1:\(corePort)")
        #expect(waiting.contains("attempt"))
        #expect(!matcher.notify.messages.contains { $0.contains("READY=1") }, "READY=1 before the core answered")

        // The core comes up (and registers MATCHER after its own READY=1): the matcher links and is ready.
        try await daemon.start()
        let ready = try await matcher.notify.wait(for: "READY=1")
        #expect(ready.contains("STATUS="), "\(ready)")
        #expect(ready.contains("core 127.0.0.1:\(corePort) linked"), "\(ready)")
        let all = matcher.notify.messages
        let readyIndex = try #require(all.firstIndex { $0.contains("READY=1") })
        #expect(all[..<readyIndex].contains { $0.contains("waiting for the core") })
        #expect(all.filter { $0.contains("READY=1") }.count == 1)
        try await matcher.notify.wait(for: "WATCHDOG=1", after: readyIndex)

        // Figures: one match served (its link issued by the core), one refused as no unique match.
        let city = try await matcher.connect(as: "CITY01")
        let tests = LinkIssuanceTests()
        guard case .matchAccepted? = try await city.request(.matchRequest(tests.matchRequest(LinkIssuanceTests.alice))) else {
            Issue.record("no MatchAccepted"); return
        }
        let refused = await tests.refusal { try await city.request(.matchRequest(tests.matchRequest(LinkIssuanceTests.twinA))) }
        #expect(refused?.code == .matchFailed)
        try await matcher.notify.waitForStatus(containing: "1 connections, 1 matches served, 1 refused (1 no unique match)")

        // SIGHUP is not a reload and must not kill it (HUP's default action would).
        matcher.signal(SIGHUP)
        try await eventually("no \"SIGHUP ignored\":\n\(matcher.log)") { matcher.log.contains("SIGHUP ignored") }
        #expect(matcher.log.contains("SIGHUP ignored"), "\(matcher.log)")
        #expect(matcher.process.isRunning)

        // SIGTERM: STOPPING=1 first, GoingAway to the connected organisation, a clean exit.
        let beforeStop = matcher.notify.messages.count
        matcher.signal(SIGTERM)
        let stopping = try await matcher.notify.wait(for: "STOPPING=1", after: beforeStop)
        #expect(stopping.contains("draining 1 connections"), "\(stopping)")
        try await city.closeFuture.get()
        #expect(await city.goingAway() != nil, "no GoingAway before the close")
        #expect(try await matcher.waitForExit() == 0, "\(matcher.log)")
        #expect(matcher.log.contains("linkcore-matcher stopped"), "\(matcher.log)")
        #expect(!matcher.notify.messages[beforeStop...].contains { $0.contains("READY=1") })
    }

    @Test func aStopWhileWaitingForTheCoreExitsCleanlyWithoutReady() async throws {
        let temp = try TempDirectory()
        let pki = try TestPKI(directory: temp.url)
        try pki.issueOrg("MATCHER")
        let matcher = try MatcherProcess(pki: pki, directory: temp.url.appendingPathComponent("matcher"),
                                         corePort: try freeLoopbackPort(), registryPath: try registry(in: temp.url))
        try matcher.process.run()
        try await matcher.notify.waitForStatus(containing: "waiting for the core")
        matcher.signal(SIGTERM)
        try await matcher.notify.wait(for: "STOPPING=1")
        #expect(try await matcher.waitForExit() == 0, "\(matcher.log)")
        #expect(!matcher.notify.messages.contains { $0.contains("READY=1") })
    }

    @Test func aBadConfigExits78BeforeReadyWithFileLineAndSuggestion() async throws {
        let temp = try TempDirectory()
        let pki = try TestPKI(directory: temp.url)
        try pki.issueOrg("MATCHER")
        let matcher = try MatcherProcess(pki: pki, directory: temp.url.appendingPathComponent("matcher"), corePort: 7400,
                                         registryPath: try registry(in: temp.url),
                                         extraConfig: ["matching": "matching_number_lifetime = 60000"])
        let line = try #require(try String(contentsOfFile: matcher.configPath, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.hasPrefix("matching_number_lifetime ") }) + 1
        try matcher.process.run()
        #expect(try await matcher.waitForExit() == 78)
        #expect(matcher.log.contains(
            "linkcore-matcher: \(matcher.configPath):\(line): [matching] matching_number_lifetime: unknown key (did you mean \"matching_number_lifetime_ms\"?)"),
            "\(matcher.log)")
        #expect(matcher.notify.messages.isEmpty, "\(matcher.notify.messages)")
    }

    @Test func aMissingRegistryOrKeyExits78AndCheckConfigPassesAGoodFile() async throws {
        let temp = try TempDirectory()
        let pki = try TestPKI(directory: temp.url)
        try pki.issueOrg("MATCHER")
        let registryPath = try registry(in: temp.url)
        let missing = temp.url.appendingPathComponent("no-registry.sqlite").path
        let noRegistry = try MatcherProcess(pki: pki, directory: temp.url.appendingPathComponent("a"), corePort: 7400, registryPath: missing)
        try noRegistry.process.run()
        #expect(try await noRegistry.waitForExit() == 78)
        #expect(noRegistry.log.contains("cannot open the registry \(missing): no such file"), "\(noRegistry.log)")
        #expect(!FileManager.default.fileExists(atPath: missing), "the matcher created an empty registry")

        let noKey = try MatcherProcess(pki: pki, directory: temp.url.appendingPathComponent("b"), corePort: 7400,
                                       registryPath: registryPath,
                                       extraConfig: ["core": "client_key = \"\(pki.path("NOBODY.key"))\""])
        try noKey.process.run()
        #expect(try await noKey.waitForExit() == 78)
        #expect(noKey.log.contains("NOBODY.key"), "\(noKey.log)")

        let good = try MatcherProcess(pki: pki, directory: temp.url.appendingPathComponent("c"), corePort: 7400,
                                      registryPath: registryPath, arguments: ["--check-config"])
        try good.process.run()
        #expect(try await good.waitForExit() == 0, "\(good.log)")
        #expect(good.log.contains("configuration \(good.configPath) is valid"), "\(good.log)")
        #expect(good.notify.messages.isEmpty)
    }
}

extension NotifySocket {
    /// Waits for a STATUS= line containing `text`; returns that datagram.
    @discardableResult
    func waitForStatus(containing text: String, timeout: Duration = defaultWaitTimeout) async throws -> String {
        try await waitFor(timeout: timeout, "no STATUS= containing \"\(text)\"; got: \(messages)") {
            messages.first { $0.split(separator: "\n").contains { $0.hasPrefix("STATUS=") && $0.contains(text) } }
        }
    }
}
