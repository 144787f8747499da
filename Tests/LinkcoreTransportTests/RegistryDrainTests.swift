import NIOCore
import NIOEmbedded
import Testing
@testable import LinkcoreTransport

/// The drain waits for the last connection to go, not for a poll to notice it.
@Suite struct RegistryDrainTests {
    @Test func aDrainEndsWhenTheLastConnectionClosesNotAtItsTimeout() async throws {
        let registry = ConnectionRegistry(maxConnections: 10, maxPerOrg: 10)
        let channels = [NIOAsyncTestingChannel(), NIOAsyncTestingChannel()]
        for channel in channels { #expect(registry.admit(channel, orgCode: "CITY01") == nil) }
        // An hour's timeout: a drain that returns with nothing closed by force returned because
        // the registry emptied.
        async let forced = registry.drain(within: .seconds(3_600))
        for channel in channels { registry.remove(channel) }
        #expect(await forced == 0)
        #expect(registry.count == 0)
    }

    @Test func aDrainOfAnEmptyRegistryReturnsAtOnce() async {
        let registry = ConnectionRegistry(maxConnections: 10, maxPerOrg: 10)
        #expect(await registry.drain(within: .seconds(3_600)) == 0)
    }
}

/// Issue 17: every mediation looks its provider's connections up; with 10,000 sessions that was a
/// scan of all of them. Now each organisation's push connections are kept apart, oldest first.
@Suite struct RegistryPushIndexTests {
    @Test func anOrganisationsPushConnectionsAreListedOldestFirstAndForgottenAtClose() {
        let registry = ConnectionRegistry(maxConnections: 100, maxPerOrg: 100)
        let b = (0..<3).map { _ in NIOAsyncTestingChannel() }
        let others = (0..<4).map { _ in NIOAsyncTestingChannel() }
        #expect(registry.admit(others[0], orgCode: "TAX01", acceptsPushes: false) == nil)  // no pushes: not listed
        for channel in b { #expect(registry.admit(channel, orgCode: "TAX01", acceptsPushes: true) == nil) }
        for channel in others.dropFirst() { #expect(registry.admit(channel, orgCode: "CITY01", acceptsPushes: true) == nil) }
        #expect(registry.pushChannels(of: "TAX01").map(ObjectIdentifier.init) == b.map(ObjectIdentifier.init))
        #expect(registry.pushChannels(of: "CITY01").count == 3)
        registry.remove(b[1])
        #expect(registry.pushChannels(of: "TAX01").map(ObjectIdentifier.init) == [b[0], b[2]].map(ObjectIdentifier.init))
        registry.remove(b[0])
        registry.remove(b[2])
        registry.remove(others[0])
        #expect(registry.pushChannels(of: "TAX01").isEmpty)
        #expect(registry.pushChannels(of: "NOBODY").isEmpty)
    }
}
