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

/// Encodes outbound envelopes as frames.
public final class EnvelopeWriter: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = LCEnvelope
    public typealias OutboundOut = ByteBuffer

    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let envelope = unwrapOutboundIn(data)
        var buffer = context.channel.allocator.buffer(capacity: 64)
        do {
            try envelope.writeFrame(into: &buffer)
            context.write(wrapOutboundOut(buffer), promise: promise)
        } catch {
            promise?.fail(error)
        }
    }
}
