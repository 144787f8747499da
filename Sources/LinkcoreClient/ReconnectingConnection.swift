import LinkcoreTLS
import LinkcoreWire
import NIOCore

/// One long-lived connection to a linkcore server (a service's link to the core), opened again
/// when it has closed (the core restarted or drained). Concurrent callers share one attempt, so
/// a burst of requests opens one connection.
public actor ReconnectingConnection {
    public let host: String
    public let port: Int
    private let tls: TLSContext
    private let hello: LCHello
    private let group: any EventLoopGroup
    private let connectTimeout: TimeAmount
    private var connection: LinkcoreConnection?
    private var connecting: Task<LinkcoreConnection, any Error>?

    public init(host: String, port: Int, tls: TLSContext, hello: LCHello, group: any EventLoopGroup,
                connectTimeout: TimeAmount = .seconds(10)) {
        self.host = host
        self.port = port
        self.tls = tls
        self.hello = hello
        self.group = group
        self.connectTimeout = connectTimeout
    }

    public nonisolated var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether a connection is open now.
    public var isConnected: Bool { connection?.channel.isActive ?? false }

    /// The open connection, or a new one (TLS and Hello/Welcome done). Throws the server's
    /// refusal (`WireError`) or the connection failure.
    @discardableResult
    public func connect() async throws -> LinkcoreConnection {
        if let connection, connection.channel.isActive { return connection }
        if let connecting { return try await connecting.value }
        let (host, port, tls, hello, group, timeout) = (host, port, tls, hello, group, connectTimeout)
        let attempt = Task {
            try await LinkcoreConnection.connect(to: .tcp(host: host, port: port), tls: tls, hello: hello, group: group, timeout: timeout)
        }
        connecting = attempt
        defer { connecting = nil }
        let live = try await attempt.value
        connection = live
        return live
    }

    public func close() async {
        await connection?.close()
        connection = nil
    }
}
