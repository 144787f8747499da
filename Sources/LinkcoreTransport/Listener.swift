import NIOCore
import NIOPosix

/// Where a server listens: a TCP address it binds, or a socket it inherited (systemd socket
/// activation), or a Unix socket path.
public enum ListenTarget: Sendable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case inherited(fd: Int32, name: String)
    case unix(path: String)

    public var description: String {
        switch self {
        case let .tcp(host, port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case let .inherited(fd, name): return "fd \(fd) (\(name))"
        case let .unix(path): return "unix:\(path)"
        }
    }
}

public enum Listener {
    /// Binds (or adopts) `target` and returns the server channel.
    public static func bind(
        _ target: ListenTarget,
        group: any EventLoopGroup,
        backlog: Int32 = 1024,
        childOptions: (ServerBootstrap) -> ServerBootstrap = { $0 },
        childInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) async throws -> any Channel {
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Fairness (issue 17): one socket read of at most 4 KiB per connection per turn of the
            // event loop, so a peer flooding frames gets about a TLS record's worth of them (~180
            // pings at most) per turn, like every other connection, and cannot hold its loop: 16
            // reads of up to 64 KiB per turn let 100 flooding peers leave a healthy requester
            // without an answer for 30 s. (Holding the rest of a burst for a later task does not
            // work: NIO runs tasks, those added meanwhile included, until none is left before it
            // polls the sockets again.)
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 4096))
            .childChannelInitializer(childInitializer)
        bootstrap = childOptions(bootstrap)
        switch target {
        case let .tcp(host, port):
            return try await bootstrap.childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .bind(host: host, port: port).get()
        case let .inherited(fd, _):
            return try await bootstrap.childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .withBoundSocket(fd).get()
        case let .unix(path):
            return try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        }
    }
}
