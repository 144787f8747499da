import LinkcoreAdapter
import LinkcoreClient
import LinkcoreWire
import Logging
import ServiceLifecycle

/// The portal's link to the core as the PORTAL organisation: the adapter's `CoreSession`
/// (mutual TLS, Hello/Welcome, keepalive, reconnect with backoff and full jitter), not a second
/// connection manager. Notices (`deliver_notice`) go to the folder, stored before the ack; links
/// pushed for an account opening go to `links`; any other push is refused as unknown, which the core treats as "not delivered".
public final class PortalCore: Sendable {
    public let session: CoreSession
    /// Links pushed for account openings (PortalLinks.swift).
    public let links: PortalLinks

    public init(endpoint: CoreEndpoint, orgCode: String, backoff: CoreSession.Backoff, logger: Logger, folder: PortalFolder? = nil) {
        let links = PortalLinks()
        self.links = links
        let receiver = folder.map { folder in NoticeReceiver { try await folder.keep($0) } }
        session = CoreSession(endpoint: endpoint, orgCode: orgCode, backoff: backoff, logger: logger) { [links] request in
            if case let .linkIssued(issued)? = request.body { return links.received(issued) }
            if let receiver, let answer = await receiver.handle(request) { return answer }
            return .failure(WireError(.unknownMessage, "this portal does not serve \(request.bodyName)"))
        }
    }

    public var isConnected: Bool { session.state.connected }
}

/// The core session as a Service of the portal's group, stopped at graceful shutdown (its
/// connection closed, its backoff sleep cancelled), as CoreSessionService does for the adapter.
public struct PortalCoreService: Service, CustomStringConvertible {
    public let description = "core session"
    let core: PortalCore
    let onConnected: @Sendable () -> Void

    public init(core: PortalCore, onConnected: @escaping @Sendable () -> Void) {
        self.core = core
        self.onConnected = onConnected
    }

    public func run() async throws {
        let (session, onConnected) = (core.session, onConnected)
        await withGracefulShutdownHandler {
            await cancelWhenGracefulShutdown { await session.run(onConnected: onConnected) }
        } onGracefulShutdown: {
            Task { await session.stop() }
        }
    }
}
