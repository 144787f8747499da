import Logging
import ServiceLifecycle

/// How each executable runs: its services as one `ServiceGroup` until SIGTERM or SIGINT, then a
/// graceful shutdown, service by service in reverse order of `services`.
public enum ProcessLifecycle {
    /// What a graceful shutdown may take beyond the drain (the last checkpoint, closing sockets)
    /// before the group escalates to cancelling the services that are still running.
    public static let shutdownMargin: Duration = .seconds(30)

    /// Returns once every service has ended. Errors are logged: the caller's clean-up follows
    /// either way.
    public static func run(_ services: [any Service], drainTimeout: Duration, logger: Logger) async {
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = drainTimeout + shutdownMargin
        do {
            try await ServiceGroup(configuration: configuration).run()
        } catch {
            logger.error("service group ended with an error", metadata: ["error": "\(error)"])
        }
    }
}
