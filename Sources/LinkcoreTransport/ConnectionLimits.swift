import LinkcoreWire
import NIOCore

/// Per-connection limits, shared by the server and client pipelines.
public struct ConnectionLimits: Sendable, Equatable {
    public var maxFrameBytes: Int
    public var maxInFlight: Int
    public var frameTimeout: TimeAmount
    public var idleTimeout: TimeAmount
    public var keepalive: TimeAmount
    /// Time from TCP accept to a completed Hello; a peer that never finishes is dropped.
    public var handshakeTimeout: TimeAmount
    /// When this many bytes wait to be written to a peer, the core stops reading from it, and
    /// refuses to start its own requests (ProvideRequest, pushes) on it.
    public var writeBufferHighBytes: Int
    /// When this many bytes wait to be written to a peer, it is not reading: the connection is closed.
    public var maxOutboundBytes: Int
    /// How long a closing connection's last frame (a refusal) may take to leave before the
    /// connection is closed regardless: a peer that does not read is still evicted.
    public var closeTimeout: TimeAmount
    /// How long a peer may leave `writeBufferHighBytes` unread (the core has stopped reading
    /// from it) before its connection is closed: its buffered replies, its slot and its share of
    /// the event loop go back.
    public var writeStallTimeout: TimeAmount

    public init(
        maxFrameBytes: Int = WireDefaults.maxFrameBytes,
        maxInFlight: Int = WireDefaults.maxInFlight,
        frameTimeout: TimeAmount = .milliseconds(Int64(WireDefaults.frameTimeoutMs)),
        idleTimeout: TimeAmount = .milliseconds(Int64(WireDefaults.idleTimeoutMs)),
        keepalive: TimeAmount = .milliseconds(Int64(WireDefaults.keepaliveMs)),
        handshakeTimeout: TimeAmount = .seconds(5),
        writeBufferHighBytes: Int = 1 << 20,
        maxOutboundBytes: Int = 8 << 20,
        closeTimeout: TimeAmount = .seconds(2),
        writeStallTimeout: TimeAmount = .seconds(30)
    ) {
        self.writeStallTimeout = writeStallTimeout
        self.maxOutboundBytes = max(maxOutboundBytes, writeBufferHighBytes)
        self.closeTimeout = closeTimeout
        self.maxFrameBytes = maxFrameBytes
        self.maxInFlight = maxInFlight
        self.frameTimeout = frameTimeout
        self.idleTimeout = idleTimeout
        self.keepalive = keepalive
        self.handshakeTimeout = handshakeTimeout
        self.writeBufferHighBytes = writeBufferHighBytes
    }

    public var writeBufferWaterMark: ChannelOptions.Types.WriteBufferWaterMark {
        .init(low: writeBufferHighBytes / 2, high: writeBufferHighBytes)
    }
}

extension FrameError {
    /// The wire refusal for a broken frame stream.
    public var wireError: WireError {
        switch self {
        case .zeroLength:
            return WireError(.malformedFrame, "zero-length frame")
        case let .tooLarge(declared, limit):
            return WireError(.frameTooLarge, "frame of \(declared) bytes exceeds the limit of \(limit) bytes")
        case let .incomplete(received):
            return WireError(.frameTimeout, "frame incomplete after the frame timeout (\(received) bytes received)")
        }
    }
}
