import NIOCore

/// Why a byte stream stopped being a valid sequence of frames. Each maps to a wire error code,
/// and each ends the connection: after a bad length prefix the stream cannot be resynchronised.
public enum FrameError: Error, Equatable, Sendable {
    case zeroLength
    case tooLarge(declared: Int, limit: Int)
    /// A frame started but its remaining bytes did not arrive within the frame timeout.
    case incomplete(receivedBytes: Int)
}

/// Splits the inbound byte stream into frames: a 4-byte big-endian length, then that many bytes.
///
/// Emits each frame's payload as a `ByteBuffer` slice (no copy). A length of zero or above
/// `maxFrameBytes` is refused before any payload is buffered, so a peer cannot make the reader
/// allocate what it declares. A frame that is started but not finished within `frameTimeout`
/// fails the channel with `FrameError.incomplete`, so a peer cannot pin a buffer forever.
public final class FrameReader: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    public static let headerBytes = 4

    public var maxFrameBytes: Int
    private let frameTimeout: TimeAmount?
    private var pending: ByteBuffer?
    private var timer: Scheduled<Void>?
    private var failed = false

    public init(maxFrameBytes: Int, frameTimeout: TimeAmount? = nil) {
        precondition(maxFrameBytes > 0)
        self.maxFrameBytes = maxFrameBytes
        self.frameTimeout = frameTimeout
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var incoming = unwrapInboundIn(data)
        if var buffer = pending, buffer.readableBytes > 0 {
            pending = nil
            // Drop the bytes of frames already emitted before appending: otherwise a peer whose
            // reads always end mid-frame makes this buffer keep everything it ever sent.
            buffer.discardReadBytes()
            buffer.writeBuffer(&incoming)
            pending = buffer
        } else {
            pending = incoming
        }
        drain(context: context)
    }

    private func drain(context: ChannelHandlerContext) {
        var completed = false
        while var buffer = pending, buffer.readableBytes >= Self.headerBytes {
            guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return }
            if length == 0 { return fail(context: context, .zeroLength) }
            if Int(length) > maxFrameBytes {
                return fail(context: context, .tooLarge(declared: Int(length), limit: maxFrameBytes))
            }
            guard buffer.readableBytes >= Self.headerBytes + Int(length) else { break }
            buffer.moveReaderIndex(forwardBy: Self.headerBytes)
            // A slice shares storage; the next frame's bytes stay in `pending`.
            let frame = buffer.readSlice(length: Int(length))!
            pending = buffer.readableBytes > 0 ? buffer : nil
            completed = true
            context.fireChannelRead(wrapInboundOut(frame))
            if failed { return }
        }
        if completed {
            // The timer times the frame in progress only: a peer that keeps completing frames
            // is healthy however long its stream never rests on a frame boundary.
            timer?.cancel()
            timer = nil
        }
        armTimer(context: context)
    }

    private func armTimer(context: ChannelHandlerContext) {
        let partial = (pending?.readableBytes ?? 0) > 0
        if !partial {
            timer?.cancel()
            timer = nil
        } else if timer == nil, let frameTimeout {
            // On the loop already: the isolated view takes a closure that may hold the handler and context.
            timer = context.eventLoop.assumeIsolated().scheduleTask(in: frameTimeout) { [weak self] in
                guard let self else { return }
                self.timer = nil
                if let received = self.pending?.readableBytes, received > 0 {
                    self.fail(context: context, .incomplete(receivedBytes: received))
                }
            }
        }
    }

    private func fail(context: ChannelHandlerContext, _ error: FrameError) {
        failed = true
        pending = nil
        timer?.cancel()
        timer = nil
        context.fireErrorCaught(error)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    public func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }
}
