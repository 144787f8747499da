import Hummingbird
import Logging
import ServiceLifecycle

/// The HTTPS listener: Hummingbird's HTTP/1.1 over the project's TLS handler, every request to
/// `PortalSite.answer`.
public enum PortalServer {
    public static func application(
        site: PortalSite, tls: TLSContextHolder, host: String, port: Int, idleTimeout: Duration, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void
    ) -> some Service {
        let seconds = max(1, Int64(idleTimeout.components.seconds))
        return Application(
            responder: CallbackResponder<BasicRequestContext> { request, _ in await site.answer(request) },
            server: .linkcoreTLS(http1: .init(idleTimeout: .seconds(seconds)), holder: tls),
            configuration: .init(address: .hostname(host, port: port), serverName: nil, reuseAddress: false),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                site.listening(port: bound)
                await onListening(bound)
            },
            logger: logger)
    }
}
