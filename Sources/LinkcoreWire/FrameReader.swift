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
/// Fairness: at most `maxFramesPerTurn` frames go up per read event; the rest wait here for a
/// task on the event loop (the next turn, after every other connection's events), and no more
/// bytes are read from the socket (`read()` is held) until they have gone up. So a peer that
/// sends thousands of frames at once, a ping flood, takes one turn of its event loop like every
/// other connection, not the loop (issue 17: 100 flooding peers left a healthy requester without
/// an answer for 30 s).
public final class FrameReader: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    public static let headerBytes = 4
    /// 16 pings are ~50 µs of a release core's time: 50 flooding connections on a loop then
    /// delay another connection's request by a few milliseconds, not by seconds.
    public static let defaultFramesPerTurn = 16

    public var maxFrameBytes: Int
    public let maxFramesPerTurn: Int
    private let frameTimeout: TimeAmount?
    private var pending: ByteBuffer?
    private var failed = false
    /// Frames passed up since the last read event ended or the last resume turn began.
    private var emitted = 0
    /// Complete frames wait for a resume task already scheduled on the loop.
    private var resumeScheduled = false
    /// The pipeline asked for a read while frames were waiting: issued once they have gone up.
    private var heldRead = false
    /// When the frame in progress started (loop time): the frame timeout counts from here.
    private var partialSince: NIODeadline?
    /// A frame timer is scheduled. It is never cancelled (NIO finds a task to cancel by a linear
    /// scan of every task on the loop, 10,000 idle sessions' timers among them): when it fires it
    /// checks `partialSince` and re-arms itself if the frame it timed has completed since.
    private var timerArmed = false

    public init(maxFrameBytes: Int, frameTimeout: TimeAmount? = nil, maxFramesPerTurn: Int = FrameReader.defaultFramesPerTurn) {
        precondition(maxFrameBytes > 0 && maxFramesPerTurn > 0)
        self.maxFrameBytes = maxFrameBytes
        self.frameTimeout = frameTimeout
        self.maxFramesPerTurn = maxFramesPerTurn
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
        // With a resume due, these bytes (the rest of one socket read: read() is held) wait for it.
        if !resumeScheduled { drain(context: context) }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        // The read event is over: the next one has a turn of its own, unless frames still wait.
        if !resumeScheduled { emitted = 0 }
        context.fireChannelReadComplete()
    }

    public func read(context: ChannelHandlerContext) {
        if resumeScheduled {
            heldRead = true
        } else {
            context.read()
        }
    }

    private func drain(context: ChannelHandlerContext) {
        while var buffer = pending, buffer.readableBytes >= Self.headerBytes {
            guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return }
            if length == 0 { return fail(context: context, .zeroLength) }
            if Int(length) > maxFrameBytes {
                return fail(context: context, .tooLarge(declared: Int(length), limit: maxFrameBytes))
            }
            guard buffer.readableBytes >= Self.headerBytes + Int(length) else { break }
            if emitted >= maxFramesPerTurn { return scheduleResume(context: context) }
            buffer.moveReaderIndex(forwardBy: Self.headerBytes)
            // A slice shares storage; the next frame's bytes stay in `pending`.
            let frame = buffer.readSlice(length: Int(length))!
            pending = buffer.readableBytes > 0 ? buffer : nil
            emitted += 1
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

    /// Complete frames are left over after this turn's share: they go up in a task on the loop,
    /// which runs after the events of every other connection ready now.
    private func scheduleResume(context: ChannelHandlerContext) {
        // Waiting for its turn is not the peer being slow: the frame timer does not run meanwhile.
        partialSince = nil
        guard !resumeScheduled else { return }
        resumeScheduled = true
        context.eventLoop.assumeIsolated().execute { [weak self] in
            guard let self, self.resumeScheduled else { return }
            self.resumeScheduled = false
            self.emitted = 0
            guard !self.failed else { return }  // failed, or removed at close
            self.drain(context: context)
            // What the frames of this turn wrote is flushed, as after a read event.
            context.fireChannelReadComplete()
            if !self.resumeScheduled {
                self.emitted = 0
                if self.heldRead {
                    self.heldRead = false
                    context.read()
                }
            }
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
