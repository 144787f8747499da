import Foundation
import NIOCore
import Testing
@testable import LinkcoreWire

/// `LCEnvelope.frame()` encodes in place (FrameBytes, issue 18): its frame must be exactly the
/// big-endian length and the protobuf bytes the usual encoding gives, for every size.
@Suite struct FrameBytesTests {
    @Test(arguments: [0, 1, 127, 128, 16_383, 16_384, 300_000])
    func aFrameEncodedInPlaceIsTheLengthThenTheEnvelopesBytes(answerBytes: Int) throws {
        var envelope = LCEnvelope()
        envelope.id = UInt64(answerBytes) + 7
        envelope.provideResponse = .with { $0.answer = Data((0..<answerBytes).map { UInt8(truncatingIfNeeded: $0 &* 31) }) }
        let expected: [UInt8] = try envelope.serializedBytes()

        var frame = try envelope.frame()
        #expect(frame.readInteger(as: UInt32.self) == UInt32(expected.count))
        #expect(frame.readableBytesView.elementsEqual(expected))
        #expect(try LCEnvelope(frame: frame) == envelope)
    }

    @Test func anEmptyEnvelopeIsAHeaderOnly() throws {
        var frame = try LCEnvelope().frame()
        #expect(frame.readableBytes == FrameReader.headerBytes)
        #expect(frame.readInteger(as: UInt32.self) == 0)
    }
}
