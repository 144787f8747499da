import Foundation
import LinkcoreClient
import LinkcoreRegistry
import LinkcoreWire
import Testing

/// Change events routed by the shipped events module (etc/linkcore/events.toml) instead of the
/// built-in routing: BANK01, a private connector, learns that the change is a death because its
/// own route says so, where the built-in routing would tell it only "changed".
@Suite(.serialized) struct PolicyEventRoutingTests {
    @Test func theEventsModuleDecidesWhoLearnsTheKind() async throws {
        let policy = Products.policyModules([("events", Products.sample("events.toml"))])
        let daemon = try DaemonProcess(extraConfig: ["policy": policy])
        try daemon.addOrg("MATCHER", role: .matcher)
        try daemon.addOrg("CITY01", role: .agency, sector: .public)
        try daemon.addOrg("BANK01", role: .privateConnector, sector: .private)
        try await daemon.start()
        #expect(try await daemon.status().policyStatus.hasPrefix("policy generation 1: events events 1.0.0"))
        let registryPath = daemon.temp.url.appendingPathComponent("registry.sqlite").path
        try RegistryStore(path: registryPath).insert([ChangeEventTests.alice])
        let matcher = try MatcherProcess(pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("matcher"),
                                         corePort: daemon.port, registryPath: registryPath)
        try await matcher.start()
        defer { matcher.signal(SIGKILL) }
        let network = ChangeEventTests.Network(daemon: daemon, matcher: matcher, registryPath: registryPath)

        let cityCode = try await network.link(ChangeEventTests.alice, to: "CITY01")
        let bankCode = try await network.link(ChangeEventTests.alice, to: "BANK01")
        let (cityInbox, bankInbox) = (ChangeEventTests.EventInbox(), ChangeEventTests.EventInbox())
        let city = try await network.connect("CITY01", inbox: cityInbox)
        let bank = try await network.connect("BANK01", inbox: bankInbox)

        try await network.change(ChangeEventTests.alice, ["--died"])
        let cityEvent = try #require(try await cityInbox.wait(count: 1, "CITY01").first)
        let bankEvent = try #require(try await bankInbox.wait(count: 1, "BANK01").first)
        #expect(cityEvent.linkCode == cityCode)
        #expect(cityEvent.kind == .died, "route E-01: municipalities learn the kind")
        #expect(bankEvent.linkCode == bankCode)
        #expect(bankEvent.kind == .died, "route E-05: BANK01's contract reveals deaths")
        await city.close()
        await bank.close()
    }
}
