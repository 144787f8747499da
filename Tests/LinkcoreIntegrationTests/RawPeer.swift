import Foundation
import LinkcoreTLS
import LinkcoreWire
import NIOCore
import NIOPosix
import Synchronization
import LinkcoreTestSupport

/// A peer written from docs/protocol.md alone: a TLS connection, and frames built by hand
/// (4-byte big-endian length, then the Envelope's protobuf bytes). No LinkcoreClient: nothing
/// numbers, matches or hides what the core sends, so a test sees every byte the document
/// speaks of.
final class RawPeer: Sendable {
    private final class Inbox: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        struct State { var bytes: [UInt8] = []; var closed = false }
        let state = Mutex(State())

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            state.withLock { $0.bytes += bytes }
        }

        func channelInactive(context: ChannelHandlerContext) {
            state.withLock { $0.closed = true }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    let channel: any Channel
    private let inbox: Inbox

    private init(channel: any Channel, inbox: Inbox) {
        self.channel = channel
        self.inbox = inbox
    }

    static func connect(port: Int, tls: TLSContext) async throws -> RawPeer {
        let inbox = Inbox()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(60))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TLSHandler(context: tls, role: .client))
                    try channel.pipeline.syncOperations.addHandler(inbox)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawPeer(channel: channel, inbox: inbox)
    }

    // MARK: sending

    /// One frame around `payload`, as §2 draws it.
    static func frame(_ payload: [UInt8]) -> [UInt8] {
        let n = UInt32(payload.count)
        return [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + payload
    }

    static func envelope(id: UInt64, _ body: LCEnvelope.OneOf_Body?) throws -> [UInt8] {
        var envelope = LCEnvelope()
        envelope.id = id
        envelope.body = body
        return frame(try envelope.serializedBytes())
    }

    func sendBytes(_ bytes: [UInt8]) {
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        channel.writeAndFlush(buffer, promise: nil)
    }

    func send(id: UInt64, _ body: LCEnvelope.OneOf_Body?) throws {
        sendBytes(try Self.envelope(id: id, body))
    }

    static func hello(orgCode: String = "", acceptsPushes: Bool = false, min: UInt32 = 1, max: UInt32 = 1) -> LCEnvelope.OneOf_Body {
        .hello(.with { $0.minVersion = min; $0.maxVersion = max; $0.software = "raw-peer"; $0.orgCode = orgCode; $0.acceptsPushes = acceptsPushes })
    }

    static func ping(_ payload: String = "") -> LCEnvelope.OneOf_Body { .ping(.with { $0.payload = Data(payload.utf8) }) }

    /// Sends Hello with id 1 and returns the Welcome (anything else fails the test).
    @discardableResult
    func hello(acceptsPushes: Bool = false) async throws -> LCWelcome {
        try send(id: 1, Self.hello(acceptsPushes: acceptsPushes))
        let reply = try await next()
        guard reply.id == 1, case let .welcome(welcome)? = reply.body else { throw TestFailure("no Welcome: \(reply)") }
        return welcome
    }

    // MARK: receiving

    /// The next envelope the core sent; waits up to `timeout`. Throws if the connection closed
    /// before a whole frame arrived.
    func next(timeout: Duration = defaultWaitTimeout) async throws -> LCEnvelope {
        let frame = try await waitFor(timeout: timeout, poll: .milliseconds(5), "no frame from the core") { () throws -> [UInt8]? in
            let (frame, closed) = inbox.state.withLock { s -> ([UInt8]?, Bool) in
                guard s.bytes.count >= 4 else { return (nil, s.closed) }
                let n = Int(s.bytes[0]) << 24 | Int(s.bytes[1]) << 16 | Int(s.bytes[2]) << 8 | Int(s.bytes[3])
                guard s.bytes.count >= 4 + n else { return (nil, s.closed) }
                let payload = Array(s.bytes[4..<(4 + n)])
                s.bytes.removeFirst(4 + n)
                return (payload, s.closed)
            }
            if frame == nil && closed { throw TestFailure("the core closed the connection") }
            return frame
        }
        return try LCEnvelope(serializedBytes: frame)
    }

    /// The next envelope, which must be an Error; returns it with its id.
    func nextError(timeout: Duration = defaultWaitTimeout) async throws -> (id: UInt64, error: LCError) {
        let envelope = try await next(timeout: timeout)
        guard case let .error(error)? = envelope.body else { throw TestFailure("expected an Error, got \(envelope)") }
        return (envelope.id, error)
    }

    /// Sends a ping with `id` and returns every envelope that came before its pong: since the
    /// core reads frames in order and answers a ping at once, this is everything it answered
    /// to what was sent before (the pong is a fence).
    func fence(id: UInt64) async throws -> [LCEnvelope] {
        try send(id: id, Self.ping("fence"))
        var before: [LCEnvelope] = []
        while true {
            let envelope = try await next()
            if envelope.id == id, case .pong? = envelope.body { return before }
            before.append(envelope)
        }
    }

    /// Waits until the core closed the connection (after any frames already read).
    func waitClosed(timeout: Duration = defaultWaitTimeout) async throws {
        try await eventually(timeout: timeout, poll: .milliseconds(5), "the core did not close the connection") { isClosed }
    }

    var isClosed: Bool { inbox.state.withLock { $0.closed } }

    func close() { channel.close(promise: nil) }
}

extension DaemonProcess {
    /// A raw peer presenting `name`.pem from this daemon's test PKI.
    func raw(as name: String) async throws -> RawPeer {
        try await RawPeer.connect(port: port, tls: try pki.clientTLS(name))
    }
}
