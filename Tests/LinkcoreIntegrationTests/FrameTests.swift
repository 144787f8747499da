import Foundation
import LinkcoreClient
import LinkcoreWire
import NIOCore
import Testing
import LinkcoreTestSupport

/// Bad frames get the typed error the protocol promises, and never disturb other connections.
@Suite(.serialized) struct FrameTests {
    static func frame(_ payload: [UInt8]) -> [UInt8] {
        let n = UInt32(payload.count)
        return [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + payload
    }

    static func ping(id: UInt64, payload: [UInt8]) throws -> [UInt8] {
        var envelope = LCEnvelope()
        envelope.id = id
        envelope.ping = LCPing.with { $0.payload = Data(payload) }
        return frame(try envelope.serializedBytes())
    }

    /// Sends `bytes` raw and returns the connection-level error the core closed with.
    private func closingError(_ daemon: DaemonProcess, _ bytes: [UInt8]) async throws -> WireError? {
        let connection = try await daemon.connect(as: "CITY01")
        connection.sendRaw(bytes)
        try await connection.closeFuture.get()
        return await connection.closeReason() as? WireError
    }

    @Test func badFramesAreRefusedAndTheDaemonKeepsServing() async throws {
        let daemon = try DaemonProcess(extraConfig: ["limits": "max_frame_bytes = 2048\nframe_timeout_ms = 300"])
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let bystander = try await daemon.connect(as: "CITY01")

        #expect(try await closingError(daemon, [0, 0, 0, 0])?.code == .malformedFrame)
        // Declares 1 GiB: refused on the header alone.
        let tooLarge = try await closingError(daemon, [0x40, 0, 0, 0])
        #expect(tooLarge?.code == .frameTooLarge)
        #expect(tooLarge?.message.contains("2048") == true)
        // Declares 100 bytes, sends 10, then nothing: dropped by the frame timer (the code says
        // which timer closed it; how long that took is not a test's business on a busy machine).
        #expect(try await closingError(daemon, [0, 0, 0, 100] + Array(repeating: 1, count: 10))?.code == .frameTimeout)

        // The connection that behaved is unaffected.
        guard case let .pong(pong)? = try await bystander.request(.ping(.with { $0.payload = Data([42]) })) else {
            Issue.record("no pong"); return
        }
        #expect(pong.payload == Data([42]))
        await bystander.close()
    }

    @Test func garbageUnknownFieldsAndUnknownBodiesKeepTheConnectionOpen() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let connection = try await daemon.connect(as: "CITY01")

        // Garbage inside a well-formed frame: MALFORMED_MESSAGE (id 0), connection stays open.
        connection.sendRaw(Self.frame([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))
        guard case .pong? = try await connection.request(.ping(LCPing())) else { Issue.record("no pong after garbage"); return }
        #expect((await connection.closeReason() as? WireError)?.code == .malformedMessage)

        // A ping carrying a field this version does not know is still answered.
        var withUnknown = LCEnvelope()
        withUnknown.id = 900
        withUnknown.ping = LCPing.with { $0.payload = Data([1]) }
        let bytes: [UInt8] = try withUnknown.serializedBytes() + [0xb8, 0x3e, 0x05]  // field 999 = 5
        connection.sendRaw(Self.frame(bytes))
        // A body this version does not know (field 2000): UNKNOWN_MESSAGE for that id.
        connection.sendRaw(Self.frame([0x08, 0x85, 0x07, 0x82, 0x7d, 0x00]))  // id 901
        // The core reads frames in order: the pong comes after it handled both.
        guard case .pong? = try await connection.request(.ping(LCPing())) else { Issue.record("no pong"); return }
        #expect(connection.channel.isActive)
        let status = try await waitFor("the error counters do not show both refusals") {
            let status = try await daemon.status()
            return status.errors.contains { $0.code == .unknownMessage } && status.errors.contains { $0.code == .malformedMessage } ? status : nil
        }
        #expect(status.errors.contains { $0.code == .unknownMessage && $0.count == 1 })
        #expect(status.errors.contains { $0.code == .malformedMessage && $0.count == 1 })
        await connection.close()
    }

    @Test func pipelinedRequestsAreAllAnsweredByID() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let connection = try await daemon.connect(as: "CITY01")
        // 2,000 pings in flight at once with distinct payloads, mixed with refused requests.
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<2000 {
                group.addTask {
                    let payload = withUnsafeBytes(of: UInt32(i).bigEndian) { Data($0) }
                    if i % 10 == 0 {
                        do {
                            _ = try await connection.request(.matchRequest(LCMatchRequest()))  // the matcher's, never the core's
                            return false
                        } catch let error as WireError {
                            return error.code == .unknownMessage
                        }
                    }
                    guard case let .pong(pong)? = try await connection.request(.ping(.with { $0.payload = payload })) else { return false }
                    return pong.payload == payload
                }
            }
            var correct = 0
            for try await ok in group where ok { correct += 1 }
            #expect(correct == 2000)
        }
        await connection.close()
    }

    @Test func anIdleConnectionIsClosedWithIdleTimeout() async throws {
        let daemon = try DaemonProcess(extraConfig: ["limits": "idle_timeout_ms = 3000"])
        try daemon.addOrg("CITY01")
        try await daemon.start()
        #expect(try await daemon.closeReasonOfASilentPeer(as: "CITY01")?.code == .idleTimeout)
    }
}
