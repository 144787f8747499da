import Foundation
import LinkcoreTLS
import LinkcoreTransport
import LinkcoreWire
import Logging
import NIOCore
import NIOPosix

/// The baseline: provider B serving requester A directly over mutual TLS, without the core.
/// Same session layer, same frames, same client; B answers A's MediateRequest itself with the
/// same payload it gives the core, so the difference is what the core adds (whitelist, link
/// conversion, the relay hop, the durable access-log entry).
struct DirectProvider: RequestHandling {
    let answers: [String: Data]

    func admit(orgCode: String) -> Result<LCRole, WireError> { .success(.agency) }

    func handle(_ request: LCEnvelope, from peer: Peer, reply: Reply) {
        guard case let .mediate(mediate)? = request.body else {
            return reply.fail(WireError(.unknownMessage, "only mediate"))
        }
        guard let answer = answers[mediate.linkCode] else {
            return reply.fail(WireError(.providerRefused, "no record", providerCode: "NO_RECORD"))
        }
        reply(.mediateResponse(.with { $0.mediationID = "direct"; $0.answer = answer }))
    }

    /// Listens on an ephemeral loopback port; returns the port.
    static func start(answers: [String: Data], tls: TLSContext, group: any EventLoopGroup) async throws -> (any Channel, Int) {
        var logger = Logger(label: "direct-provider")
        logger.logLevel = .warning
        let environment = ConnectionEnvironment(
            coreID: "direct", limits: ConnectionLimits(), service: DirectProvider(answers: answers), metrics: Metrics(),
            registry: ConnectionRegistry(maxConnections: 1000, maxPerOrg: 1000), logger: logger)
        let channel = try await Listener.bind(.tcp(host: "127.0.0.1", port: 0), group: group) { channel in
            channel.eventLoop.makeCompletedFuture { try Pipelines.configureServer(channel, tls: tls, environment: environment) }
        }
        return (channel, channel.localAddress?.port ?? 0)
    }
}
