import CSystemd

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Sockets passed by systemd socket activation (`linkcored.socket`), per `sd_listen_fds(3)`.
public enum SocketActivation {
    /// The first passed descriptor (`SD_LISTEN_FDS_START`).
    public static let firstDescriptor: Int32 = 3

    /// Listening sockets passed by systemd, with their names: `FileDescriptorName=` values, or the socket
    /// unit's name (e.g. `"linkcored.socket"`) by default. Empty when not socket-activated.
    ///
    /// Unsets `$LISTEN_PID`, `$LISTEN_FDS` and `$LISTEN_FDNAMES` (so children do not inherit them) and marks
    /// the descriptors close-on-exec; call it once, early. The caller owns the descriptors.
    public static func inheritedSockets() -> [(fd: Int32, name: String)] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
        let count = sd_listen_fds_with_names(1, &names)
        var parsed: [String?] = []
        if let names, count > 0 {
            for index in 0..<Int(count) {
                if let entry = names[index] {
                    parsed.append(String(cString: entry))
                    free(entry)
                } else {
                    parsed.append(nil)
                }
            }
        }
        if let names { free(names) }
        return pair(count: Int(count), names: parsed)
    }

    /// Pairs descriptors `3..<3+count` with names; missing or empty names become `"unknown"` (as systemd
    /// does). A negative count (an error from libsystemd) yields no sockets.
    public static func pair(count: Int, names: [String?]) -> [(fd: Int32, name: String)] {
        guard count > 0 else { return [] }
        return (0..<count).map { index in
            let name = index < names.count ? (names[index] ?? "") : ""
            return (fd: firstDescriptor + Int32(index), name: name.isEmpty ? "unknown" : name)
        }
    }

    /// Accepts and closes every connection already waiting on the inherited listening sockets;
    /// returns how many. For a daemon about to exit without serving (a configuration error): a
    /// connection left in the backlog would make systemd start the service again at once, and again,
    /// until the start limit stops the socket unit too. Drained, each start costs a new connection
    /// attempt, and the peer learns at once that the core is not serving.
    @discardableResult
    public static func refusePendingConnections(on sockets: [(fd: Int32, name: String)]) -> Int {
        var refused = 0
        for socket in sockets {
            let flags = fcntl(socket.fd, F_GETFL)
            guard flags >= 0, fcntl(socket.fd, F_SETFL, flags | O_NONBLOCK) == 0 else { continue }
            while true {
                let connection = accept(socket.fd, nil, nil)
                if connection < 0 {
                    if errno == EINTR { continue }
                    break  // EAGAIN: nothing more waits; EINVAL: not a listening socket
                }
                close(connection)
                refused += 1
            }
        }
        return refused
    }

    /// Parses `$LISTEN_FDNAMES` (colon-separated) for `count` descriptors, the way libsystemd does.
    public static func parseNames(_ value: String?, count: Int) -> [String] {
        let given = value.map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) } ?? []
        return pair(count: count, names: given).map(\.name)
    }
}
