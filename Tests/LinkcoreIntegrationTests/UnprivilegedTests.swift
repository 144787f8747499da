import Foundation
import LinkcoreClient
import LinkcoreWire
import NIOCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// linkcored as its unit runs it: no root, no capabilities (DynamicUser=yes,
/// CapabilityBoundingSet= empty, NoNewPrivileges=yes). Issue 11: TCP_NODELAY was set with
/// `socketOption`, i.e. at SOL_SOCKET level, where option 1 is SO_DEBUG; root may set that, the
/// unit may not (EACCES), so under systemd every accepted connection was dropped before TLS,
/// while every test (running the daemon as root) passed and Nagle stayed on everywhere.
@Suite struct UnprivilegedTests {
    @Test func theDaemonRunsWithoutRootOrCapabilitiesAndCompletesAHandshake() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("CITY01")
        try await daemon.start()

        let credentials = try ProcessCredentials(pid: daemon.process.processIdentifier)
        #expect(credentials.realUID == ServiceAccount.expectedUID && credentials.effectiveUID == ServiceAccount.expectedUID)
        #expect(credentials.effectiveUID != 0, "the daemon under test runs as root")
        #expect(credentials.effectiveCapabilities == 0, "CapEff \(String(credentials.effectiveCapabilities, radix: 16))")
        #expect(credentials.permittedCapabilities == 0, "CapPrm \(String(credentials.permittedCapabilities, radix: 16))")
        if ServiceAccount.dropsPrivileges {
            #expect(credentials.boundingCapabilities == 0, "CapBnd \(String(credentials.boundingCapabilities, radix: 16))")
            #expect(credentials.noNewPrivileges)
        }

        // The handshake the unit refused: TCP accept, TLS, Hello/Welcome, then a round trip.
        let connection = try await daemon.connect(as: "CITY01")
        guard case .pong? = try await connection.request(.ping(LCPing())) else { Issue.record("no pong"); return }
        await connection.close()
        #expect(!daemon.log.contains("Permission denied"), "\(daemon.log)")
    }

    @Test func bothEndsOfAConnectionSetTCPNoDelayAndNotSODebug() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let connection = try await daemon.connect(as: "CITY01")
        defer { Task { await connection.close() } }

        // The client's socket (LinkcoreConnection, as adapters, linkctl and the matcher use it).
        #expect(try await connection.channel.getOption(.tcpOption(.tcp_nodelay)).get() != 0, "the client left Nagle on")
        #expect(try await connection.channel.getOption(.socketOption(NIOBSDSocket.Option(rawValue: SO_DEBUG))).get() == 0, "the client set SO_DEBUG")

        // The daemon's accepted socket for this very connection, read from the running daemon.
        let clientPort = try #require(connection.channel.localAddress?.port)
        let pid = daemon.process.processIdentifier
        let accepted = try AcceptedSocket.find(pid: pid, localPort: daemon.port, remotePort: clientPort)
        #expect(accepted.uid == ServiceAccount.expectedUID, "the accepted socket belongs to uid \(accepted.uid)")
        let options = try await SocketOptionProbe.read(pid: pid, fd: accepted.fd)
        #expect(options == "tcp_nodelay=1 so_debug=0", "the daemon's accepted socket: \(options)")
    }

    /// Issue 12, finding 16a: file modes are not the only guard of the admin socket. Even when a
    /// site leaves it reachable by everyone, the daemon asks the kernel who connected
    /// (SO_PEERCRED) and serves only root and its own user.
    @Test(.enabled(if: ServiceAccount.dropsPrivileges, "needs root to run linkctl as two other users"))
    func theAdminSocketServesRootAndTheDaemonsUserOnlyWhateverItsMode() async throws {
        let daemon = try DaemonProcess()
        try await daemon.start()
        let attributes = try FileManager.default.attributesOfItem(atPath: daemon.adminSocket)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)

        // A site whose runtime directory and socket are open to all (a mistake, or a shared path).
        #expect(chmod((daemon.adminSocket as NSString).deletingLastPathComponent, 0o755) == 0)
        #expect(chmod(daemon.adminSocket, 0o666) == 0)

        let stranger = try await daemon.linkctl(["status"], uid: ServiceAccount.otherUID)
        #expect(stranger.status != 0, "another user got the status:\n\(stranger.output)")
        #expect(stranger.output.contains("PERMISSION_DENIED") || stranger.output.contains("the daemon's own user"), "\(stranger.output)")
        #expect(!stranger.output.contains("connections:"), "\(stranger.output)")

        let own = try await daemon.linkctl(["status"], uid: ServiceAccount.uid)
        #expect(own.status == 0 && own.output.contains("connections:"), "\(own.output)")
        let root = try await daemon.linkctl(["status"])
        #expect(root.status == 0 && root.output.contains("connections:"), "\(root.output)")
        // The daemon serves on: the refusal closed one connection, nothing else.
        #expect(daemon.process.isRunning)
        #expect(daemon.log.contains("refused a connection from another user"), "\(daemon.log)")
    }
}

/// A TCP socket of a running process, found through /proc: the connection's inode in
/// /proc/<pid>/net/tcp, then the descriptor that links to it in /proc/<pid>/fd.
struct AcceptedSocket {
    let fd: Int32
    let uid: uid_t

    static func find(pid: pid_t, localPort: Int, remotePort: Int) throws -> AcceptedSocket {
        let table = try readProcFile("/proc/\(pid)/net/tcp")
        let local = String(format: "0100007F:%04X", localPort)
        let remote = String(format: "0100007F:%04X", remotePort)
        // Columns: sl local rem st tx:rx tr:when retrnsmt uid timeout inode …
        guard let row = table.split(separator: "\n").map({ $0.split(whereSeparator: \.isWhitespace) })
                .first(where: { $0.count > 9 && $0[1] == local && $0[2] == remote }),
              let uid = uid_t(row[7]) else {
            throw TestFailure("no connection \(local) ↔ \(remote) in /proc/\(pid)/net/tcp:\n\(table)")
        }
        let target = "socket:[\(row[9])]"
        for name in try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") {
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(name)")) == target, let fd = Int32(name) {
                return AcceptedSocket(fd: fd, uid: uid)
            }
        }
        throw TestFailure("process \(pid) has no descriptor for \(target)")
    }
}

/// The whole of a /proc file. Its size reads as 0, and a single read returns one page of
/// /proc/<pid>/net/tcp only: read until end of file.
func readProcFile(_ path: String) throws -> String {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw TestFailure("open \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = read(fd, &buffer, buffer.count)
        guard n >= 0 else { throw TestFailure("read \(path): \(String(cString: strerror(errno)))") }
        if n == 0 { return String(decoding: bytes, as: UTF8.self) }
        bytes += buffer[..<n]
    }
}

/// Reads TCP_NODELAY (IPPROTO_TCP) and SO_DEBUG (SOL_SOCKET) of another process's socket:
/// a small C program that takes a copy of the descriptor with
/// pidfd_getfd(2) (Linux 5.6; the caller may ptrace the daemon: it is root or its parent). Swift
/// cannot call the variadic syscall(2) itself.
enum SocketOptionProbe {
    static let source = """
        #define _GNU_SOURCE
        #include <netinet/in.h>
        #include <netinet/tcp.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <sys/socket.h>
        #include <sys/syscall.h>
        #include <unistd.h>
        int main(int argc, char **argv) {
            if (argc != 3) return 2;
            int pidfd = (int)syscall(SYS_pidfd_open, atoi(argv[1]), 0);
            if (pidfd < 0) { perror("pidfd_open"); return 1; }
            int fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(argv[2]), 0);
            if (fd < 0) { perror("pidfd_getfd"); return 1; }
            int nodelay = -1, debug = -1;
            socklen_t n = sizeof nodelay;
            if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &n) != 0) { perror("TCP_NODELAY"); return 1; }
            n = sizeof debug;
            if (getsockopt(fd, SOL_SOCKET, SO_DEBUG, &debug, &n) != 0) { perror("SO_DEBUG"); return 1; }
            printf("tcp_nodelay=%d so_debug=%d\\n", nodelay != 0, debug);
            return 0;
        }
        """

    /// "tcp_nodelay=N so_debug=N" for descriptor `fd` of process `pid` (compiled for this call,
    /// in a directory removed afterwards).
    static func read(pid: pid_t, fd: Int32) async throws -> String {
        let temp = try TempDirectory()
        let source = temp.url.appendingPathComponent("sockopt-probe.c").path
        let binary = temp.url.appendingPathComponent("sockopt-probe").path
        try Self.source.write(toFile: source, atomically: true, encoding: .utf8)
        let (built, log) = try await run("/usr/bin/env", ["cc", "-O1", "-o", binary, source], in: temp)
        guard built == 0 else { throw TestFailure("cc sockopt-probe.c failed (\(built)):\n\(log)") }
        let (status, output) = try await run(binary, ["\(pid)", "\(fd)"], in: temp)
        guard status == 0 else { throw TestFailure("sockopt-probe \(pid) \(fd) failed (\(status)):\n\(output)") }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func run(_ executable: String, _ arguments: [String], in temp: TempDirectory) async throws -> (Int32, String) {
        try await runToExit(executable, arguments, outputDirectory: temp.url)
    }
}
