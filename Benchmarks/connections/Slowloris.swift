import Foundation
import Synchronization

/// COUNT raw TCP sockets to the core from 127.0.0.2-101 (a hundred source addresses, so the
/// per-address cap alone does not stop them), each having sent the first bytes of a TLS record
/// and then one byte more each second: a handshake that never finishes. Plain sockets, not NIO:
/// nothing here should do TLS work the core does not have to answer.
final class Slowloris: Sendable {
    private let sockets: Mutex<[Int32]>
    let connected: Int

    init(count: Int, port: Int) {
        var opened: [Int32] = []
        for i in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { break }
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = (UInt32(0x7f00_0002) + UInt32(i % 100)).bigEndian
            var remote = sockaddr_in()
            remote.sin_family = sa_family_t(AF_INET)
            remote.sin_port = UInt16(port).bigEndian
            remote.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            let bound = withUnsafePointer(to: &local) { l in
                l.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            } == 0
            let result = !bound ? -1 : withUnsafePointer(to: &remote) { r in
                r.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            let ok = bound && (result == 0 || errno == EINPROGRESS)
            if ok { opened.append(fd) } else { close(fd) }
        }
        connected = opened.count
        sockets = Mutex(opened)
    }

    /// Sends a TLS handshake record header, then one byte per `interval`, to every socket still open.
    func trickle(every interval: Duration) async {
        let header: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00]  // handshake record of 512 bytes
        var sent = 0
        while !Task.isCancelled {
            sockets.withLock { fds in
                for fd in fds {
                    let byte = sent < header.count ? header[sent] : 0x01
                    var value = byte
                    _ = send(fd, &value, 1, Int32(MSG_NOSIGNAL))
                }
            }
            sent += 1
            try? await Task.sleep(for: interval)
        }
    }

    /// How many sockets the core has not closed (a read that would block means still open).
    func stillOpen() -> Int {
        sockets.withLock { fds in
            fds.filter { fd in
                var byte: UInt8 = 0
                let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
                return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
            }.count
        }
    }

    func closeAll() {
        sockets.withLock { fds in
            for fd in fds { close(fd) }
            fds.removeAll()
        }
    }
}
