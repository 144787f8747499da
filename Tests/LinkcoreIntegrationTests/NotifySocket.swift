import Foundation
import LinkcoreTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A real sd_notify receiver: an AF_UNIX datagram socket whose path is given to the daemon as
/// NOTIFY_SOCKET, exactly as systemd does. Collects every datagram the daemon sends.
final class NotifySocket: @unchecked Sendable {
    let path: String
    private let socketFD: Int32
    private let lock = NSLock()
    private var received: [String] = []
    private var thread: Thread?

    init(directory: URL) throws {
        path = directory.appendingPathComponent("notify.sock").path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        socketFD = fd
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [weak self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !Thread.current.isCancelled {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n > 0 {
                    guard let self else { return }
                    let text = String(decoding: buffer[..<n], as: UTF8.self)
                    self.lock.lock(); self.received.append(text); self.lock.unlock()
                } else if n < 0 && errno != EAGAIN && errno != EINTR {
                    return  // closed
                }
            }
            close(fd)
        }
        self.thread = thread
        thread.start()
    }

    var messages: [String] { lock.lock(); defer { lock.unlock() }; return received }

    /// Waits until a datagram containing `line` (e.g. "READY=1") arrives; returns that datagram.
    @discardableResult
    func wait(for line: String, after index: Int = 0, timeout: Duration = defaultWaitTimeout) async throws -> String {
        try await waitFor(timeout: timeout, "no \(line) on NOTIFY_SOCKET; got: \(messages)") {
            let all = messages
            guard all.count > index else { return nil }
            return all[index...].first { $0.split(separator: "\n").contains(Substring(line)) }
        }
    }

    deinit {
        // The reader thread closes the socket when it sees the cancellation (within 200 ms).
        thread?.cancel()
    }
}
