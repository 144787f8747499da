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

/// Encodes outbound envelopes as frames, gathering every frame written before a flush into one
/// buffer: the TLS layer then encrypts one buffer per flush instead of one per reply.
public final class EnvelopeWriter: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = LCEnvelope
    public typealias OutboundOut = ByteBuffer

    private var pending: ByteBuffer?
    private var promises: [EventLoopPromise<Void>] = []

    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let envelope = unwrapOutboundIn(data)
        var buffer = pending ?? context.channel.allocator.buffer(capacity: 4096)
        do {
            try envelope.writeFrame(into: &buffer)
        } catch {
            promise?.fail(error)
            return
        }
        pending = buffer
        if let promise { promises.append(promise) }
    }

    public func flush(context: ChannelHandlerContext) {
        if let buffer = pending {
            pending = nil
            let waiting = promises
            promises.removeAll(keepingCapacity: true)
            if waiting.isEmpty {
                context.write(wrapOutboundOut(buffer), promise: nil)
            } else {
                let written = context.eventLoop.makePromise(of: Void.self)
                for promise in waiting { written.futureResult.cascade(to: promise) }
                context.write(wrapOutboundOut(buffer), promise: written)
            }
        }
        context.flush()
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        dropPending(ChannelError.ioOnClosedChannel)
        context.close(mode: mode, promise: promise)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        dropPending(ChannelError.ioOnClosedChannel)
    }

    private func dropPending(_ error: any Error) {
        pending = nil
        let waiting = promises
        promises.removeAll()
        for promise in waiting { promise.fail(error) }
    }
}
