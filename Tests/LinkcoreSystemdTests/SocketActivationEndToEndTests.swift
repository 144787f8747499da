import Foundation
import Testing

@testable import LinkcoreSystemd

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// End-to-end socket activation with the real `systemd-socket-activate`: it listens on a port, and on
// the first connection execs this test binary again, running only `SocketActivationProbe` with the
// listening socket at fd 3. The probe calls `SocketActivation.inheritedSockets()`, accepts the
// connection on that socket and reports what it found through it.

private let probeVariable = "LINKCORE_SOCKET_ACTIVATION_PROBE"
private let socketActivate = "/usr/bin/systemd-socket-activate"

private func freeTCPPort() -> UInt16? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
        }
    }
    return ok ? UInt16(bigEndian: addr.sin_port) : nil
}

private func connectTCP(port: UInt16) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = port.bigEndian
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    if rc != 0 {
        close(fd)
        return nil
    }
    return fd
}

@Suite struct SocketActivationEndToEndTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: socketActivate) && ProcessInfo.processInfo.environment[probeVariable] == nil))
    func inheritedSocketFromSystemdSocketActivate() async throws {
        let port = try #require(freeTCPPort())
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let log = NSTemporaryDirectory() + "/lc-socket-activate-\(getpid()).log"
        FileManager.default.createFile(atPath: log, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: log) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: socketActivate)
        process.arguments = [
            "--listen=127.0.0.1:\(port)", "--fdname=mtls", "--setenv=\(probeVariable)=\(port)",
            executable, "--testing-library", "swift-testing", "--filter", "SocketActivationProbe",
        ]
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = output
        process.standardError = output
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // Wait for systemd-socket-activate to listen, then connect: that starts the probe.
        var fd: Int32? = nil
        for _ in 0..<100 {
            fd = connectTCP(port: port)
            if fd != nil { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let connection = try #require(fd, "systemd-socket-activate did not listen on \(port)")
        defer { close(connection) }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received.append(contentsOf: buffer[0..<n])
        }
        let report = String(decoding: received, as: UTF8.self)
        process.waitUntilExit()
        let childLog = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(report == "fd=3 name=mtls port=\(port)\n", "probe output:\n\(childLog)")
        #expect(process.terminationStatus == 0, "probe output:\n\(childLog)")
    }
}

/// Runs only inside the child started by `systemd-socket-activate`.
@Suite struct SocketActivationProbe {
    @Test(.enabled(if: ProcessInfo.processInfo.environment[probeVariable] != nil))
    func probe() throws {
        let sockets = SocketActivation.inheritedSockets()
        #expect(getenv("LISTEN_FDS") == nil, "environment is unset for children")
        let first = try #require(sockets.first)
        #expect(sockets.count == 1)
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(first.fd, $0, &len) }
        }
        #expect(named == 0)
        let flags = fcntl(first.fd, F_GETFD)
        #expect(flags >= 0 && flags & FD_CLOEXEC != 0, "inherited sockets are close-on-exec")
        let client = accept(first.fd, nil, nil)
        try #require(client >= 0)
        let message = Array("fd=\(first.fd) name=\(first.name) port=\(UInt16(bigEndian: addr.sin_port))\n".utf8)
        _ = message.withUnsafeBytes { send(client, $0.baseAddress, $0.count, 0) }
        close(client)
    }
}
