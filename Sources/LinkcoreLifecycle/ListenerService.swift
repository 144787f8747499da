import LinkcoreTransport
import Logging
import NIOCore
import ServiceLifecycle

/// Server channels as a service: they accept until graceful shutdown, then are closed (and the
/// close awaited), then `afterClose` runs, e.g. the drain of the connections they accepted.
public struct ListenerService: Service, CustomStringConvertible {
    public let description: String
    private let channels: [any Channel]
    private let afterClose: @Sendable () async -> Void

    public init(_ name: String, channels: [any Channel], afterClose: @escaping @Sendable () async -> Void = {}) {
        self.description = name
        self.channels = channels
        self.afterClose = afterClose
    }

    public func run() async throws {
        try? await gracefulShutdown()   // throws only when cancelled: close then as well
        for channel in channels { try? await channel.close() }
        await afterClose()
    }

    /// Listeners for peers: after they close, every connection is asked to go away and given up
    /// to `drainTimeout()` to finish what is in flight; the rest are closed.
    public static func draining(_ channels: [any Channel], registry: ConnectionRegistry,
                                drainTimeout: @escaping @Sendable () -> Duration, logger: Logger) -> ListenerService {
        ListenerService("listeners", channels: channels) {
            let forced = await registry.drain(within: drainTimeout())
            if forced > 0 {
                logger.warning("drain timeout: closed remaining connections", metadata: ["connections": "\(forced)"])
            }
        }
    }
}
