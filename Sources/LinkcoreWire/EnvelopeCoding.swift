import NIOCore
import SwiftProtobuf

extension LCEnvelope {
    /// Decoding limits for envelopes from peers: bounded nesting; unknown fields are kept (and
    /// ignored) so that a newer peer's additions never break an older core.
    public static let decodingOptions: BinaryDecodingOptions = {
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = 32
        return options
    }()

    /// Decodes one frame's payload.
    public init(frame: ByteBuffer) throws {
        self = try frame.withUnsafeReadableBytes { raw in
            try LCEnvelope(serializedBytes: RawSpan(_unsafeBytes: raw), options: Self.decodingOptions)
        }
    }

    /// Appends this envelope to `buffer` as one frame: 4-byte big-endian length, then the bytes.
    public func writeFrame(into buffer: inout ByteBuffer) throws {
        let bytes: [UInt8] = try serializedBytes()
        buffer.reserveCapacity(minimumWritableBytes: FrameReader.headerBytes + bytes.count)
        buffer.writeInteger(UInt32(bytes.count))
        buffer.writeBytes(bytes)
    }

    /// The body case name, for logs and metrics (never the body's content).
    public var bodyName: String {
        guard let body else { return "none" }
        // "hello(...)" -> "hello": the case label without its payload.
        let described = String(describing: body)
        return described.split(separator: "(", maxSplits: 1).first.map(String.init) ?? described
    }
}

/// Encodes outbound envelopes as frames, and never sends one above `maxFrameBytes`: the peer
/// would close the connection (FRAME_TOO_LARGE) and lose everything in flight on it (issue 12,
/// finding 10). The write fails with FRAME_TOO_LARGE instead; on a server, a reply to the
/// peer's request is replaced by a typed error with the same id, so the peer hears of it.
public final class EnvelopeWriter: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = LCEnvelope
    public typealias OutboundOut = ByteBuffer

    let maxFrameBytes: Int
    let answerOversizedReplies: Bool

    public init(maxFrameBytes: Int = WireDefaults.maxFrameBytes, answerOversizedReplies: Bool = false) {
        self.maxFrameBytes = maxFrameBytes
        self.answerOversizedReplies = answerOversizedReplies
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let envelope = unwrapOutboundIn(data)
        do {
            var buffer = try envelope.frame()  // encoded in place (FrameBytes)
            let length = buffer.readableBytes - FrameReader.headerBytes
            guard length <= maxFrameBytes else {
                let refusal = WireError(.frameTooLarge, "outbound frame of \(length) bytes (\(envelope.bodyName)) exceeds the limit of \(maxFrameBytes) bytes; not sent")
                // Only a reply (BodyKind's table) is answered: an error with the id of a request
                // the core started would read, on the peer's side, as a reply to one of its own.
                if answerOversizedReplies, envelope.id != 0, envelope.body?.kind == .reply {
                    // .internal, not FRAME_TOO_LARGE: the connection stays usable (protocol.md §7).
                    var reply = WireError(.internal, "the reply of \(length) bytes is above the frame limit of \(maxFrameBytes) bytes; nothing was sent")
                    reply.retryable = false
                    buffer.clear()
                    try reply.envelope(id: envelope.id).writeFrame(into: &buffer)
                    context.write(wrapOutboundOut(buffer), promise: nil)
                }
                promise?.fail(refusal)
                return
            }
            context.write(wrapOutboundOut(buffer), promise: promise)
        } catch {
            promise?.fail(error)
        }
    }
}
