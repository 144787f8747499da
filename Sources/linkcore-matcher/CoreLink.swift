import LinkcoreClient
import LinkcoreTLS
import LinkcoreWire
import NIOCore

/// The matcher's connection to the core, reopened when it has closed (the core restarted or
/// drained). Opened once at start so that the matcher is ready only when the core answers.
actor CoreLink {
    private let host: String
    private let port: Int
    private let tls: TLSContext
    private let group: any EventLoopGroup
    private let requestTimeout: TimeAmount
    private var connection: LinkcoreConnection?
    private var connecting: Task<LinkcoreConnection, any Error>?

    init(host: String, port: Int, tls: TLSContext, group: any EventLoopGroup, requestTimeout: TimeAmount) {
        self.host = host
        self.port = port
        self.tls = tls
        self.group = group
        self.requestTimeout = requestTimeout
    }

    var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether a connection is open now.
    var isConnected: Bool { connection?.channel.isActive ?? false }

    /// The open connection, or a new one (TLS and Hello/Welcome done). Throws the core's refusal.
    /// Concurrent callers share one attempt, so a burst of requests opens one connection.
    @discardableResult
    func connect() async throws -> LinkcoreConnection {
        if let connection, connection.channel.isActive { return connection }
        if let connecting { return try await connecting.value }
        let (host, port, tls, group) = (host, port, tls, group)
        let attempt = Task {
            try await LinkcoreConnection.connect(
                to: .tcp(host: host, port: port), tls: tls,
                hello: LinkcoreConnection.defaultHello(software: "linkcore-matcher/0.1"), group: group)
        }
        connecting = attempt
        defer { connecting = nil }
        let live = try await attempt.value
        connection = live
        return live
    }

    func request(_ body: LCEnvelope.OneOf_Body) async throws -> LCEnvelope.OneOf_Body? {
        try await connect().request(body, timeout: requestTimeout)
    }

    func close() async {
        await connection?.close()
        connection = nil
    }
}
