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
///
public final class FrameReader: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    public static let headerBytes = 4
    public var maxFrameBytes: Int
    private let frameTimeout: TimeAmount?
    private var pending: ByteBuffer?
    private var failed = false
    /// When the frame in progress started (loop time): the frame timeout counts from here.
    private var partialSince: NIODeadline?
    /// A frame timer is scheduled. It is never cancelled (NIO finds a task to cancel by a linear
    /// scan of every task on the loop, 10,000 idle sessions' timers among them): when it fires it
    /// checks `partialSince` and re-arms itself if the frame it timed has completed since.
    private var timerArmed = false

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
            // The timer times the frame in progress only: a peer that keeps completing frames
            // is healthy however long its stream never rests on a frame boundary.
            partialSince = nil
            context.fireChannelRead(wrapInboundOut(frame))
            if failed { return }
        }
        if (pending?.readableBytes ?? 0) > 0 {
            if partialSince == nil { partialSince = context.eventLoop.now }
            armTimer(context: context)
        } else {
            partialSince = nil
        }
    }

    private func armTimer(context: ChannelHandlerContext) {
        guard !timerArmed, let frameTimeout, let since = partialSince else { return }
        timerArmed = true
        // On the loop already: the isolated view takes a closure that may hold the handler and context.
        context.eventLoop.assumeIsolated().scheduleTask(deadline: since + frameTimeout) { [weak self] in
            guard let self else { return }
            self.timerArmed = false
            guard !self.failed, let since = self.partialSince else { return }
            if since + frameTimeout <= context.eventLoop.now, let received = self.pending?.readableBytes, received > 0 {
                self.fail(context: context, .incomplete(receivedBytes: received))
            } else {
                self.armTimer(context: context)  // another frame started since: time that one
            }
        }
    }

    private func fail(context: ChannelHandlerContext, _ error: FrameError) {
        failed = true
        pending = nil
        partialSince = nil
        context.fireErrorCaught(error)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        // A timer still scheduled finds nothing to do (see `timerArmed`).
        failed = true
        pending = nil
        partialSince = nil
    }

    public func channelInactive(context: ChannelHandlerContext) {
        partialSince = nil
        context.fireChannelInactive()
    }
}
