import Foundation
import LinkcoreWire
import Testing
import LinkcoreTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Issue 12, finding 5: connections are capped at accept, before TLS and Hello, globally and per
/// source address, so bare TCP connections cannot hold slots until the handshake timeout.
@Suite(.serialized) struct PreHelloFloodTests {
    /// A bare TCP connection from 127.0.0.1 that sends nothing; its file descriptor.
    static func bareConnection(port: Int) throws -> Int32 { try loopbackConnect(port: port) }

    /// Whether the core closed `fd` (end of stream or reset), without blocking.
    static func closedByCore(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// Opens `count` bare connections and waits until all but `kept` are closed by the core;
    /// returns the descriptors (the caller closes them).
    static func flood(port: Int, count: Int, kept: Int) async throws -> [Int32] {
        var fds: [Int32] = []
        for _ in 0..<count { fds.append(try bareConnection(port: port)) }
        var closed = 0
        try await eventually("\(closed) of \(count) bare connections closed at accept; \(kept) may stay") {
            closed = fds.filter(closedByCore).count
            return closed >= count - kept
        }
        print("figure: finding 5: \(closed) of \(count) bare connections closed at accept")
        #expect(closed == count - kept, "\(closed) of \(count) bare connections closed at accept; \(kept) may stay")
        return fds
    }

    /// The handshake timeout is a minute here: before the fix every bare connection was held
    /// for all of it. Now the ninth connection from one address is closed at accept, and a
    /// real peer from that address gets in once the bare ones are gone.
    @Test func connectionsPerSourceAddressAreCappedAtAccept() async throws {
        let daemon = try DaemonProcess(extraConfig: [
            "limits": "max_connections_per_address = 8", "tls": "handshake_timeout_ms = 60000", "log": "level = \"info\""])
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let fds = try await Self.flood(port: daemon.port, count: 40, kept: 8)
        // A real peer from the same address while 8 bare ones are held: closed at accept too.
        let refused = try await daemon.raw(as: "CITY01")
        try await refused.waitClosed()
        for fd in fds { close(fd) }
        // Once they are gone, the address may connect again.
        let welcome = try await waitFor(poll: .milliseconds(50), "the address cannot connect again") {
            let peer = try await daemon.raw(as: "CITY01")
            defer { peer.close() }
            return try? await peer.hello()
        }
        #expect(welcome.orgCode == "CITY01")
    }

    /// Connections without Hello are capped globally; sessions past Hello do not count and keep
    /// working during the flood.
    @Test func connectionsAwaitingHelloAreCappedGlobally() async throws {
        let daemon = try DaemonProcess(extraConfig: [
            "limits": "max_connections_awaiting_hello = 10", "tls": "handshake_timeout_ms = 60000", "log": "level = \"info\""])
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let session = try await daemon.raw(as: "CITY01")
        try await session.hello()
        let fds = try await Self.flood(port: daemon.port, count: 50, kept: 10)
        #expect(try await session.fence(id: 2).isEmpty)
        #expect(try await daemon.status().connections <= 11)
        for fd in fds { close(fd) }
        session.close()
    }
}
