import NIOCore
import SwiftProtobuf

/// A frame being encoded: the 4-byte length, then room for exactly the envelope's bytes, in one
/// ByteBuffer. swift-protobuf sizes the message, asks its bytes type for that many bytes and
/// encodes into them; with this type they are the frame itself, so an outbound frame costs one
/// allocation and no copy (issue 18: encoding into a [UInt8] and copying it into a ByteBuffer
/// was one allocation and one copy more per frame sent).
struct FrameBytes: SwiftProtobufContiguousBytes {
    private(set) var buffer: ByteBuffer

    init(repeating byte: UInt8, count: Int) {
        buffer = ByteBufferAllocator().buffer(capacity: FrameReader.headerBytes + count)
        buffer.writeInteger(UInt32(truncatingIfNeeded: count))
        buffer.writeRepeatingByte(byte, count: count)
    }

    init<S: Sequence>(_ sequence: S) where S.Element == UInt8 {
        let bytes = Array(sequence)
        self.init(repeating: 0, count: bytes.count)
        withUnsafeMutableBytes { target in bytes.withUnsafeBytes { target.copyMemory(from: $0) } }
    }

    var count: Int { buffer.readableBytes - FrameReader.headerBytes }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeReadableBytes { all in
            try body(UnsafeRawBufferPointer(rebasing: all[FrameReader.headerBytes...]))
        }
    }

    mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeMutableReadableBytes { all in
            try body(UnsafeMutableRawBufferPointer(rebasing: all[FrameReader.headerBytes...]))
        }
    }
}

extension LCEnvelope {
    /// This envelope as one frame (length prefix and bytes), encoded in place.
    public func frame() throws -> ByteBuffer {
        let frame: FrameBytes = try serializedBytes()
        return frame.buffer
    }
}
