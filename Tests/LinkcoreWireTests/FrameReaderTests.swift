import NIOCore
import NIOEmbedded
import Testing
@testable import LinkcoreWire

/// Records what the reader passes up: frames and errors.
private final class Sink: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var frames: [[UInt8]] = []
    var errors: [any Error] = []
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        frames.append(Array(unwrapInboundIn(data).readableBytesView))
    }
    func errorCaught(context: ChannelHandlerContext, error: any Error) { errors.append(error) }
}

private func makeChannel(max: Int = 1024, timeout: TimeAmount? = nil) throws -> (EmbeddedChannel, Sink) {
    let sink = Sink()
    let channel = EmbeddedChannel()
    try channel.pipeline.syncOperations.addHandlers([FrameReader(maxFrameBytes: max, frameTimeout: timeout), sink])
    return (channel, sink)
}

private func frame(_ payload: [UInt8]) -> [UInt8] {
    let n = UInt32(payload.count)
    return [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + payload
}

@Suite struct FrameReaderTests {
    @Test func splitsFramesAcrossAndWithinReads() throws {
        let (channel, sink) = try makeChannel()
        let stream = frame([1, 2, 3]) + frame([4]) + frame(Array(repeating: 9, count: 300))
        // Feed one byte at a time, then everything at once: the frames must be identical.
        for byte in stream { try channel.writeInbound(ByteBuffer(bytes: [byte])) }
        try channel.writeInbound(ByteBuffer(bytes: stream))
        #expect(sink.frames.count == 6)
        #expect(sink.frames[0] == [1, 2, 3])
        #expect(sink.frames[1] == [4])
        #expect(sink.frames[2].count == 300)
        #expect(Array(sink.frames[3...]) == Array(sink.frames[..<3]))
        #expect(sink.errors.isEmpty)
    }

    @Test func zeroLengthIsRefused() throws {
        let (channel, sink) = try makeChannel()
        try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 0] + frame([1])))
        #expect(sink.frames.isEmpty)
        #expect(sink.errors.first as? FrameError == .zeroLength)
    }

    @Test func oversizedLengthIsRefusedBeforeItsPayloadArrives() throws {
        let (channel, sink) = try makeChannel(max: 1024)
        // Only the header: the reader must refuse without waiting for (or buffering) 1 GiB.
        try channel.writeInbound(ByteBuffer(bytes: [0x40, 0, 0, 0]))
        #expect(sink.errors.first as? FrameError == .tooLarge(declared: 0x4000_0000, limit: 1024))
        // Nothing after the refusal is passed up.
        try channel.writeInbound(ByteBuffer(bytes: frame([1])))
        #expect(sink.frames.isEmpty)
    }

    @Test func exactlyTheLimitIsAccepted() throws {
        let (channel, sink) = try makeChannel(max: 1024)
        try channel.writeInbound(ByteBuffer(bytes: frame(Array(repeating: 7, count: 1024))))
        #expect(sink.frames.first?.count == 1024)
        #expect(sink.errors.isEmpty)
    }

    @Test func anUnfinishedFrameTimesOut() throws {
        let (channel, sink) = try makeChannel(timeout: .seconds(10))
        try channel.writeInbound(ByteBuffer(bytes: Array(frame([1, 2, 3, 4, 5]).prefix(6))))
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(sink.errors.isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(sink.errors.first as? FrameError == .incomplete(receivedBytes: 6))
    }

    @Test func aFrameCompletedInTimeCancelsTheTimer() throws {
        let (channel, sink) = try makeChannel(timeout: .seconds(10))
        let bytes = frame([1, 2, 3, 4, 5])
        try channel.writeInbound(ByteBuffer(bytes: Array(bytes.prefix(6))))
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        try channel.writeInbound(ByteBuffer(bytes: Array(bytes.dropFirst(6))))
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(sink.frames == [[1, 2, 3, 4, 5]])
        #expect(sink.errors.isEmpty)
    }
}

/// The frame timer is never cancelled (NIO cancels by a linear scan of the loop's tasks): it
/// finds, when it fires, whether the frame it timed completed, and times the next one.
@Suite struct FrameReaderTimerTests {
    @Test func aTimerThatFiresAfterItsFrameCompletedTimesTheNextFrame() throws {
        let (channel, sink) = try makeChannel(timeout: .seconds(10))
        let first = frame([1, 2, 3]), second = frame([4, 5, 6])
        try channel.writeInbound(ByteBuffer(bytes: Array(first.prefix(5))))
        channel.embeddedEventLoop.advanceTime(by: .seconds(6))
        // The first completes and the second starts at 6 s: its time runs from there.
        try channel.writeInbound(ByteBuffer(bytes: Array(first.dropFirst(5)) + Array(second.prefix(5))))
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))  // 15 s: 9 s into the second
        #expect(sink.errors.isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(sink.errors.first as? FrameError == .incomplete(receivedBytes: 5))
        #expect(sink.frames == [[1, 2, 3]])
    }
}
