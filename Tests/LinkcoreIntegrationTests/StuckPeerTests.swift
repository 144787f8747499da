import Foundation
import LinkcoreWire
import NIOCore
import Testing
import LinkcoreTestSupport

/// Issue 12, finding 3: a peer that stops reading cannot make the core buffer without bound,
/// and is evicted.
@Suite(.serialized) struct StuckPeerTests {
    /// Stops reading on `peer` and sends pings until the core's answers back up: the peer's
    /// receive buffer and the core's send buffer fill, then the core's write buffer passes
    /// write_buffer_high_bytes and it stops reading from the peer. Writes are not awaited: they
    /// stay queued in this process once the core stops reading.
    static func stopReadingAndFlood(_ peer: RawPeer, firstID: UInt64 = 1000, pings: Int = 300_000) async throws {
        try await peer.channel.setOption(ChannelOptions.autoRead, value: false).get()
        let payload = String(repeating: "x", count: WireDefaults.maxPingPayload)
        var id = firstID
        for _ in 0..<(pings / 1000) {
            var batch: [UInt8] = []
            for _ in 0..<1000 {
                batch += try RawPeer.envelope(id: id, RawPeer.ping(payload))
                id += 1
            }
            peer.sendBytes(batch)
        }
    }

    /// Before the fix, the IDLE_TIMEOUT frame sent to a stuck peer never left, and the connection
    /// stayed open for good (> 20 s with a 3 s idle timeout). Now close_timeout_ms bounds it.
    @Test func aPeerThatStopsReadingIsEvicted() async throws {
        let daemon = try DaemonProcess(extraConfig: [
            "limits": "idle_timeout_ms = 4000\nclose_timeout_ms = 1000", "log": "level = \"info\""])
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let peer = try await daemon.raw(as: "CITY01")
        try await peer.hello()
        try await Self.stopReadingAndFlood(peer)
        let status = try await waitFor("the stuck peer is still connected") {
            let status = try await daemon.status()
            return status.connections == 0 ? status : nil
        }
        #expect(status.connections == 0, "the stuck peer is still connected")
        #expect(status.peers.isEmpty)
        peer.close()
    }

    /// Issue 17: a peer that stops reading is closed once it has left write_buffer_high_bytes
    /// unread for write_stall_timeout_ms, with its own reason (not IDLE_TIMEOUT: the idle timeout
    /// here is ten minutes), while a healthy peer on the same core is still answered.
    @Test func aPeerThatLeavesItsRepliesUnreadIsClosedForWriteStall() async throws {
        let daemon = try DaemonProcess(extraConfig: [
            "limits": "idle_timeout_ms = 600000\nframe_timeout_ms = 600000\nwrite_stall_timeout_ms = 3000", "log": "level = \"info\""])
        try daemon.addOrg("CITY01")
        try daemon.addOrg("CITY02")
        try await daemon.start()
        let stuck = try await daemon.raw(as: "CITY01")
        try await stuck.hello()
        let healthy = try await daemon.raw(as: "CITY02")
        try await healthy.hello()
        try await Self.stopReadingAndFlood(stuck)
        // Answered while the stuck peer floods and until it is closed.
        var id: UInt64 = 10
        try await eventually("the stuck peer was not closed for write stall\n\(daemon.log.suffix(3000))") {
            try healthy.send(id: id, RawPeer.ping("healthy"))
            guard case .pong? = try await healthy.next().body else { throw TestFailure("the healthy peer got no pong") }
            id += 1
            return daemon.log.contains("reason=write_stalled")
        }
        let status = try await waitFor("the stuck peer is still connected") {
            let status = try await daemon.status()
            return status.connections == 1 ? status : nil
        }
        #expect(status.peers.map(\.orgCode) == ["CITY02"])
        #expect(!daemon.log.contains("closing idle connection"))
        try healthy.send(id: id, RawPeer.ping("after"))
        guard case .pong? = try await healthy.next().body else { throw TestFailure("no pong after the stuck peer was closed") }
        stuck.close()
        healthy.close()
    }

    /// Before the fix, mediations toward a provider that did not read queued ProvideRequests
    /// until their deadline (PROVIDER_TIMEOUT) and the core kept the bytes (1,024 mediations:
    /// 77 MB -> 403 MB). Now a ProvideRequest to a peer that does not read fails at once with
    /// PROVIDER_UNAVAILABLE (retryable), and the core's memory stays bounded.
    @Test func aProvideRequestToAProviderThatDoesNotReadFailsAtOnce() async throws {
        // Frame timeout long: the core stops reading B mid-frame, and B must stay a live, active
        // session that does not read (not one refused for an unfinished frame).
        let (net, a, b, la) = try await ConformanceTests.mediation(limits: "frame_timeout_ms = 600000")
        defer { a.close(); b.close() }
        let before = try net.daemon.residentBytes()
        try await Self.stopReadingAndFlood(b)
        // Until the core stops reading B, a mediation may still reach B (and time out).
        var id: UInt64 = 10
        var last: LCError?
        try await eventually(poll: .zero, "no PROVIDER_UNAVAILABLE; last: \(String(describing: last))") {
            try a.send(id: id, ConformanceTests.mediate(la, deadlineMs: 2000))
            last = try await a.nextError().error
            id += 1
            return last?.code == .providerUnavailable
        }
        #expect(last?.code == .providerUnavailable)
        #expect(last?.retryable == true)

        // 1,024 more, 128 at a time: every one answered PROVIDER_UNAVAILABLE; memory bounded.
        var unavailable = 0
        for _ in 0..<8 {
            for _ in 0..<128 {
                try a.send(id: id, ConformanceTests.mediate(la, deadlineMs: 2000))
                id += 1
            }
            for _ in 0..<128 where try await a.nextError().error.code == .providerUnavailable {
                unavailable += 1
            }
        }
        #expect(unavailable == 1024)
        let grown = try net.daemon.residentBytes() - before
        print("figure: finding 3: VmRSS \(before >> 20) MiB -> \((before + grown) >> 20) MiB after 1,024 mediations toward a provider that does not read; \(unavailable) PROVIDER_UNAVAILABLE")
        #expect(grown < 64 << 20, "linkcored grew by \(grown >> 20) MiB")
    }
}
