import LinkcoreWire
import NIOCore
import NIOEmbedded
import Synchronization
import Testing
@testable import LinkcoreTransport

/// Found by the crash loop (issue 17, item 3; docs/reliability.md): an adapter killed with
/// kill -9 while the core pushed change events to it. The event dispatcher had taken the
/// connection from the registry a moment before the core saw it close; by the time the push
/// reached the connection's event loop, NIO had torn the pipeline down and dropped the request
/// without a word. `Pusher.request` then waited for a reply forever (its deadline timer lives in
/// the handler that never saw it), the organisation's drain never ended, and no change event
/// reached that organisation again until the core restarted.
@Suite struct PusherTests {
    @Test func aRequestOnAConnectionThatHasJustClosedFailsInsteadOfWaitingForever() async throws {
        let channel = NIOAsyncTestingChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
        try await channel.close()  // the pipeline is torn down, as after a peer's kill -9
        let pusher = Pusher(registry: ConnectionRegistry(maxConnections: 1, maxPerOrg: 1), timeout: .seconds(1))
        let outcome = Mutex<String?>(nil)
        // Unstructured, so that the test ends (and fails) even when the request never returns.
        let request = Task {
            do {
                _ = try await pusher.request(.changeEvent(.init()), on: channel)
                outcome.withLock { $0 = "answered" }
            } catch let error as WireError {
                outcome.withLock { $0 = "failed: \(error.code)" }
            } catch {
                outcome.withLock { $0 = "failed: \(error)" }
            }
        }
        // A generous bound for "never returns", not a timing assertion: the failure is immediate.
        for _ in 0..<600 where outcome.withLock({ $0 }) == nil {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(outcome.withLock { $0 } == "failed: \(WireError(.unavailable, "").code)",
                "the push neither failed nor was answered: the dispatcher would wait for it forever")
        _ = request
    }
}
