import Foundation
import LinkcoreShapes
import LinkcoreTLS
import LinkcoreTransport
import LinkcoreWire
import Logging
import NIOCore

/// One connection from another node on this node's `[node] listen` address (issue 16). The TLS
/// layer admits only a certificate of the network CA with one `urn:linkcore:node:` URI
/// (`TLSContext.nodeServer`); anything else hears NODE_CERTIFICATE_REQUIRED and is closed. There
/// is no Hello: the certificate is the node's identity, and both ends run the same release.
/// Served: Ping, and NodeProvide (relay a mediation to B's connection here). Requests are
/// answered by id, in any order, each in its own task.
final class NodeConnectionHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = LCEnvelope

    /// Relays a forwarded ProvideRequest to the organisation's connection on this node.
    typealias Relay = @Sendable (_ provider: String, _ request: LCProvideRequest, _ timeoutMs: Int64) async -> ProviderRelayResult
    enum ProviderRelayResult: Sendable { case notHolding, reply(LCNodeProvideResponse) }

    private let relay: Relay
    private let logger: Logger

    init(relay: @escaping Relay, logger: Logger) {
        self.relay = relay
        self.logger = logger
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case let .peerRejected(reason)? = event as? TLSEvent {
            let reason = PeerText.safe("\(reason)", max: 200)
            logger.warning("node connection refused", metadata: ["reason": "\(reason)"])
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(WireError(.nodeCertificateRequired,
                                                             "this is a node-to-node listener: \(reason)").envelope(id: 0)))
                .whenComplete { _ in channel.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let envelope = try? LCEnvelope(frame: unwrapInboundIn(data)) else {
            context.writeAndFlush(wrapOutboundOut(WireError(.malformedMessage, "not an Envelope").envelope(id: 0)), promise: nil)
            return
        }
        let id = envelope.id
        switch envelope.body {
        case let .ping(ping)?:
            context.writeAndFlush(wrapOutboundOut(LCEnvelope.with { $0.id = id; $0.body = .pong(.with { $0.payload = ping.payload }) }),
                                  promise: nil)
        case let .nodeProvide(forward)?:
            let channel = context.channel
            let relay = self.relay
            Task {
                var reply = LCEnvelope()
                reply.id = id
                switch await relay(forward.providerOrg, forward.provide, Int64(max(1, forward.timeoutMs))) {
                case .notHolding:
                    reply = WireError(.nodeNotHolding, "this node holds no connection of \(PeerText.safe(forward.providerOrg, max: 64))",
                                      retryable: true).envelope(id: id)
                case let .reply(response):
                    reply.body = .nodeProvideResponse(response)
                }
                channel.writeAndFlush(reply, promise: nil)
            }
        default:
            guard envelope.body?.kind == .request else { return }  // a stray reply: nothing to answer
            context.writeAndFlush(wrapOutboundOut(WireError(.unknownMessage, "\(envelope.bodyName) is not served on a node listener")
                .envelope(id: id)), promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("node connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}
