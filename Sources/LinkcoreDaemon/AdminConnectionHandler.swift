import LinkcoreWire
import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Operator requests on the local admin socket. The socket file is 0600 in a 0700 directory,
/// so only the daemon's own user (and root) can connect; no TLS or Hello is needed there.
/// The kernel's word on the peer (SO_PEERCRED) is checked as well, so that a directory or socket
/// left more open than that (a site's own RuntimeDirectoryMode, an admin_socket path in a
/// shared directory) still lets no other user in.
public protocol AdminHandling: Sendable {
    func handle(_ request: LCEnvelope) async -> Result<LCEnvelope.OneOf_Body, WireError>
}

final class AdminConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = LCEnvelope

    private let admin: any AdminHandling
    private let logger: Logger

    /// Whether the peer is root or the daemon's own user; nil until channelActive has asked.
    private var peerAllowed: Bool?

    init(admin: any AdminHandling, logger: Logger) {
        self.admin = admin
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        // On the channel's event loop the option is read at once, before any byte is read.
        let channel = context.channel
        PeerCredentials.of(channel).assumeIsolated().whenComplete { [self] result in
            switch result {
            case let .success(peer) where peer.uid == 0 || peer.uid == geteuid():
                peerAllowed = true
            case let .success(peer):
                peerAllowed = false
                logger.warning("admin socket: refused a connection from another user",
                               metadata: ["uid": "\(peer.uid)", "pid": "\(peer.pid)"])
                refuse(channel)
            case let .failure(error):
                peerAllowed = false
                logger.warning("admin socket: cannot read the peer's credentials; refused", metadata: ["error": "\(error)"])
                refuse(channel)
            }
        }
        context.fireChannelActive()
    }

    private func refuse(_ channel: any Channel) {
        let error = WireError(.permissionDenied, "the admin socket serves root and the daemon's own user only")
        channel.writeAndFlush(error.envelope(id: 0)).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard peerAllowed == true else { return }   // refused (and closing), or not yet known
        let channel = context.channel
        guard let request = try? LCEnvelope(frame: unwrapInboundIn(data)) else {
            channel.writeAndFlush(WireError(.malformedMessage, "frame is not a valid Envelope").envelope(id: 0), promise: nil)
            return
        }
        // The body table says what an operator may ask; anything else is answered here, on the
        // loop, without a hop to the handler.
        guard request.body?.isOperatorRequest == true else {
            let error = WireError(.unknownMessage, "\(request.bodyName) is not an operator request served by this core")
            channel.writeAndFlush(error.envelope(id: request.id), promise: nil)
            return
        }
        let admin = self.admin
        let promise = context.eventLoop.makePromise(of: LCEnvelope.self)
        promise.completeWithTask {
            var reply = LCEnvelope()
            reply.id = request.id
            switch await admin.handle(request) {
            case let .success(body): reply.body = body
            case let .failure(error): reply.error = error.proto
            }
            return reply
        }
        promise.futureResult.whenSuccess { reply in channel.writeAndFlush(reply, promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard peerAllowed == true else { context.close(promise: nil); return }
        logger.debug("admin connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}

/// `struct ucred` as SO_PEERCRED fills it (pid, uid, gid: three 32-bit fields on Linux),
/// declared here because Glibc's needs _GNU_SOURCE.
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0

    /// The credentials the kernel recorded for the other end of a Unix socket when it connected.
    static func of(_ channel: any Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        return provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
    }
}
