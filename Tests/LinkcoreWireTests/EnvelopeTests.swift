import CLinkcoreProto
import Foundation
import NIOCore
import SwiftProtobuf
import Testing
@testable import LinkcoreWire

@Suite struct EnvelopeTests {
    @Test func roundTripsThroughAFrame() throws {
        var envelope = LCEnvelope()
        envelope.id = 42
        envelope.mediate = .with {
            $0.bpID = "BP-0101"; $0.providerOrg = "PENSION01"; $0.linkCode = "ABCD"; $0.infoType = "income"
            $0.query = Data([1, 2, 3])
        }
        var buffer = ByteBuffer()
        try envelope.writeFrame(into: &buffer)
        let header = buffer.readInteger(as: UInt32.self)
        let length = try #require(header)
        #expect(Int(length) == buffer.readableBytes)
        #expect(try LCEnvelope(frame: buffer) == envelope)
        #expect(envelope.bodyName == "mediate")
    }

    @Test func garbageIsAnError() {
        #expect(throws: (any Error).self) { try LCEnvelope(frame: ByteBuffer(bytes: [0xff, 0xff, 0xff, 0xff, 0x0f])) }
    }

    @Test func unknownFieldsAreKeptAndIgnored() throws {
        var envelope = LCEnvelope()
        envelope.id = 7
        envelope.ping = LCPing()
        var bytes: [UInt8] = try envelope.serializedBytes()
        // Field 999, varint 5: what a newer peer might add.
        bytes += [0xb8, 0x3e, 0x05]
        let decoded = try LCEnvelope(frame: ByteBuffer(bytes: bytes))
        #expect(decoded.id == 7)
        #expect(decoded.ping == LCPing())
        #expect(!decoded.unknownFields.data.isEmpty)
    }

    @Test func anUnknownBodyDecodesAsNoBody() throws {
        // Field 2000 as a length-delimited message: a body this version does not know.
        let bytes: [UInt8] = [0x08, 0x09, 0x82, 0x7d, 0x00]
        let decoded = try LCEnvelope(frame: ByteBuffer(bytes: bytes))
        #expect(decoded.id == 9)
        #expect(decoded.body == nil)
    }

    @Test func versionNegotiationPicksTheHighestCommon() {
        #expect(ProtocolVersion.negotiate(peerMin: 1, peerMax: 5) == ProtocolVersion.current)
        #expect(ProtocolVersion.negotiate(peerMin: 2, peerMax: 9) == nil)
        #expect(ProtocolVersion.negotiate(peerMin: 0, peerMax: 0) == nil)
    }
}

/// The published contract must work for a C peer: protoc-c output and swift-protobuf agree byte
/// for byte.
@Suite struct ProtobufCInteropTests {
    @Test func cEncodesSwiftDecodes() throws {
        var ping = Linkcore__V1__Ping()
        linkcore__v1__ping__init(&ping)
        var envelope = Linkcore__V1__Envelope()
        linkcore__v1__envelope__init(&envelope)
        envelope.id = 77
        let payload: [UInt8] = [9, 8, 7]
        let packed: [UInt8] = payload.withUnsafeBufferPointer { p in
            ping.payload = ProtobufCBinaryData(len: p.count, data: UnsafeMutablePointer(mutating: p.baseAddress))
            return withUnsafeMutablePointer(to: &ping) { pingPointer in
                envelope.body_case = LINKCORE__V1__ENVELOPE__BODY_PING
                envelope.ping = pingPointer
                let size = linkcore__v1__envelope__get_packed_size(&envelope)
                var out = [UInt8](repeating: 0, count: size)
                _ = linkcore__v1__envelope__pack(&envelope, &out)
                return out
            }
        }
        let decoded = try LCEnvelope(frame: ByteBuffer(bytes: packed))
        #expect(decoded.id == 77)
        #expect(decoded.ping.payload == Data(payload))
        // And Swift's encoding of the same message is the same bytes.
        #expect(try decoded.serializedBytes() == packed)
    }

    @Test func swiftEncodesCDecodes() throws {
        var envelope = LCEnvelope()
        envelope.id = 5
        envelope.error = WireError(.notPermitted, "no whitelist row").proto
        let bytes: [UInt8] = try envelope.serializedBytes()
        let unpacked = bytes.withUnsafeBufferPointer { linkcore__v1__envelope__unpack(nil, $0.count, $0.baseAddress) }
        let decoded = try #require(unpacked)
        defer { linkcore__v1__envelope__free_unpacked(decoded, nil) }
        #expect(decoded.pointee.id == 5)
        #expect(decoded.pointee.body_case == LINKCORE__V1__ENVELOPE__BODY_ERROR)
        let error = try #require(decoded.pointee.error)
        #expect(error.pointee.code == LINKCORE__V1__ERROR_CODE__NOT_PERMITTED)
        #expect(String(cString: error.pointee.message) == "no whitelist row")
    }
}
