import LinkcoreWire
import NIOCore
import NIOEmbedded
import FuzzSupport

/// The frame reader and envelope decoding, as a connection sees them: the input is the byte
/// stream a peer sends (after TLS), cut into reads of a size taken from its first byte, through
/// `FrameReader` in an `EmbeddedChannel`; every frame it emits is decoded as an `LCEnvelope`
/// and, when it decodes, re-encoded (what a reply or a log line does with it).
func fuzz(_ input: [UInt8]) {
    guard let first = input.first else { return }
    let readSize = Int(first % 64) + 1
    let stream = input.dropFirst()
    let channel = EmbeddedChannel(handler: FrameReader(maxFrameBytes: 64 * 1024))
    defer { _ = try? channel.finish() }
    var offset = stream.startIndex
    while offset < stream.endIndex {
        let end = min(offset + readSize, stream.endIndex)
        let chunk = channel.allocator.buffer(bytes: stream[offset..<end])
        offset = end
        do { try channel.writeInbound(chunk) } catch { return }  // a FrameError ends the connection
        while let frame = try? channel.readInbound(as: ByteBuffer.self) {
            guard let envelope = try? LCEnvelope(frame: frame) else { continue }
            _ = envelope.bodyName
            _ = envelope.body?.kind
            var out = ByteBuffer()
            guard (try? envelope.writeFrame(into: &out)) != nil else { fatalError("a decoded envelope does not encode") }
            // What the core decodes, re-encodes and decodes again is the same message (a relayed
            // body, a logged one): unknown fields included.
            out.moveReaderIndex(forwardBy: FrameReader.headerBytes)
            guard let again = try? LCEnvelope(frame: out), again == envelope else {
                fatalError("an envelope changed in a decode-encode-decode round trip")
            }
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(FuzzDriver.bytes(data, size))
    return 0
}

@_cdecl("FuzzFrames_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { data, size in fuzzOneInput(data, size) }
}
