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
