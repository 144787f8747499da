import LinkcoreClient
import LinkcoreTLS
import LinkcoreWire
import NIOCore

/// The matcher's connection to the core: LinkcoreClient's `ReconnectingConnection` (reopened when
/// it has closed, failing over across the `[core] address` list), with the matcher's request
/// timeout. Opened once at start so that the matcher is ready only when the core answers.
struct CoreLink: Sendable {
    let connection: ReconnectingConnection
    private let requestTimeout: TimeAmount

    init(addresses: CoreAddresses, tls: TLSContext, group: any EventLoopGroup, requestTimeout: TimeAmount) {
        connection = ReconnectingConnection(addresses: addresses, tls: tls,
                                            hello: LinkcoreConnection.defaultHello(software: "linkcore-matcher/0.1"), group: group)
        self.requestTimeout = requestTimeout
    }

    /// The core address in use now (or tried next).
    var address: String { connection.address }

    /// Every configured address, in order of preference.
    var addressList: String { connection.addresses.all.map(\.description).joined(separator: ", ") }

    /// Whether a connection is open now.
    var isConnected: Bool { get async { await connection.isConnected } }

    /// The open connection, or a new one (TLS and Hello/Welcome done). Throws the core's refusal.
    @discardableResult
    func connect() async throws -> LinkcoreConnection { try await connection.connect() }

    func request(_ body: LCEnvelope.OneOf_Body) async throws -> LCEnvelope.OneOf_Body? {
        try await connect().request(body, timeout: requestTimeout)
    }

    func close() async { await connection.close() }
}
