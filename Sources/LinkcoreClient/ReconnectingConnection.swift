import LinkcoreTLS
import LinkcoreWire
import NIOCore

/// One long-lived connection to a linkcore server (a service's link to the core), opened again
/// when it has closed (the core restarted or drained). Concurrent callers share one attempt, so
/// a burst of requests opens one connection. With several core addresses (`CoreAddresses`) an
/// attempt is one round over them; a lost connection fails over to the next address.
public actor ReconnectingConnection {
    public nonisolated let addresses: CoreAddresses
    private let tls: TLSContext
    private let hello: LCHello
    private let group: any EventLoopGroup
    private let connectTimeout: TimeAmount
    private var connection: LinkcoreConnection?
    private var connecting: Task<LinkcoreConnection, any Error>?

    public init(addresses: CoreAddresses, tls: TLSContext, hello: LCHello, group: any EventLoopGroup,
                connectTimeout: TimeAmount = .seconds(10)) {
        self.addresses = addresses
        self.tls = tls
        self.hello = hello
        self.group = group
        self.connectTimeout = connectTimeout
    }

    public init(host: String, port: Int, tls: TLSContext, hello: LCHello, group: any EventLoopGroup,
                connectTimeout: TimeAmount = .seconds(10)) {
        self.init(addresses: CoreAddresses(host: host, port: port), tls: tls, hello: hello, group: group, connectTimeout: connectTimeout)
    }

    /// The address in use now (or tried next): for status lines and logs.
    public nonisolated var address: String { addresses.current.description }

    /// Whether a connection is open now.
    public var isConnected: Bool { connection?.channel.isActive ?? false }

    /// The open connection, or a new one (TLS and Hello/Welcome done). Throws the server's
    /// refusal (`WireError`) or the connection failure (`CoreUnreachable` naming each address).
    @discardableResult
    public func connect() async throws -> LinkcoreConnection {
        if let connection, connection.channel.isActive { return connection }
        if let connecting { return try await connecting.value }
        if connection != nil {
            // Lost (not closed by us): the node may be gone, so the round starts with the next one.
            connection = nil
            addresses.failOver()
        }
        let (addresses, tls, hello, group, timeout) = (addresses, tls, hello, group, connectTimeout)
        let attempt = Task {
            try await addresses.firstConnecting { address in
                try await LinkcoreConnection.connect(to: .tcp(host: address.host, port: address.port), tls: tls, hello: hello,
                                                     group: group, timeout: timeout)
            }
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
