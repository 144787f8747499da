import Foundation
import NIOCore
import NIOEmbedded
import Testing
@testable import LinkcoreWire

/// Issue 12, finding 10: an outbound frame above the limit is not sent (the peer would close the
/// connection); the write fails with FRAME_TOO_LARGE, and a server's reply becomes a typed error.
@Suite struct EnvelopeWriterTests {
    func reply(answer: Int) -> LCEnvelope {
        var envelope = LCEnvelope()
        envelope.id = 7
        envelope.mediateResponse = .with { $0.mediationID = "m-1"; $0.answer = Data(repeating: 0x78, count: answer) }
        return envelope
    }

    @Test func anOversizedReplyIsReplacedByATypedErrorWithItsID() throws {
        let channel = EmbeddedChannel(handler: EnvelopeWriter(maxFrameBytes: 1024, answerOversizedReplies: true))
        let write = channel.writeAndFlush(reply(answer: 2000))
        channel.embeddedEventLoop.run()
        #expect(throws: WireError.self) { try write.wait() }
        let frame = try #require(try channel.readOutbound(as: ByteBuffer.self))
        var payload = frame
        _ = payload.readInteger(as: UInt32.self)
        let sent = try LCEnvelope(frame: payload)
        #expect(sent.id == 7)
        #expect(sent.error.code == .internal && sent.error.message.contains("above the frame limit"), "\(sent)")
        // A reply within the limit goes out as it is.
        try channel.writeAndFlush(reply(answer: 10)).wait()
        var small = try #require(try channel.readOutbound(as: ByteBuffer.self))
        _ = small.readInteger(as: UInt32.self)
        #expect(try LCEnvelope(frame: small) == reply(answer: 10))
        _ = try channel.finish()
    }

    @Test func anOversizedRequestIsNotSentAndItsWriteFails() throws {
        let channel = EmbeddedChannel(handler: EnvelopeWriter(maxFrameBytes: 1024, answerOversizedReplies: true))
        var request = LCEnvelope()
        request.id = 9
        request.provide = .with { $0.query = Data(repeating: 1, count: 4096) }
        let write = channel.writeAndFlush(request)
        channel.embeddedEventLoop.run()
        #expect(throws: WireError.self) { try write.wait() }
        // Not answered with an error: the peer would read it as a reply to its own request 9.
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        _ = try channel.finish()
    }
}
