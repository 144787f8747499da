import ServiceLifecycle

/// The adapter's session with the core (connect, serve pushes, reconnect with backoff) as a
/// Service of the adapter's ServiceGroup. On graceful shutdown the session is stopped: its
/// connection is closed (which ends the serving wait) and the backoff sleep is cancelled.
public struct CoreSessionService: Service {
    let service: AdapterService
    let onConnected: @Sendable () -> Void

    public init(service: AdapterService, onConnected: @escaping @Sendable () -> Void) {
        self.service = service
        self.onConnected = onConnected
    }

    public func run() async throws {
        let service = self.service
        let onConnected = self.onConnected
        await withGracefulShutdownHandler {
            await cancelWhenGracefulShutdown { await service.run(onConnected: onConnected) }
        } onGracefulShutdown: {
            // The handler cannot await; stop() only flips a flag and closes the connection.
            Task { await service.stop() }
        }
    }
}
