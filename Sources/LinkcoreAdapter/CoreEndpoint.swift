import LinkcoreClient
import LinkcoreTLS
import LinkcoreWire

/// Where an adapter reaches the core, and with which credentials: the organisation's
/// certificate and key (the certificate names the organisation) and the network CA.
public struct CoreEndpoint: Sendable {
    public var host: String
    public var port: Int
    public var certificate: String
    public var privateKey: String
    public var caBundle: String
    public var serverName: String

    /// PEM CRLs the core's certificate (and its chain) is checked against; nil: no revocation check.
    public var crl: String?
    /// What the Hello names as the software (the core logs it); the portal, which reuses this
    /// endpoint and CoreSession, names itself.
    public var software = "linkcore-adapter/0.1"

    /// The core nodes, in order of preference, and the one in use (shared by the copies of this
    /// endpoint, so that status reports name the node the session is on). `host`/`port`: the first.
    public let addresses: CoreAddresses

    /// `address`: `host:port`, or several comma-separated (`h1:p1,h2:p2`: fail over in that order).
    public init(address: String, certificate: String, privateKey: String, caBundle: String, serverName: String = "localhost",
                crl: String? = nil) throws {
        guard let addresses = CoreAddresses(list: address) else {
            throw AdapterError("expected host:port (or several, comma-separated), got \"\(address)\"")
        }
        try self.init(addresses: addresses.all, certificate: certificate, privateKey: privateKey, caBundle: caBundle,
                      serverName: serverName, crl: crl)
    }

    public init(addresses: [CoreAddress], certificate: String, privateKey: String, caBundle: String, serverName: String = "localhost",
                crl: String? = nil) throws {
        guard let first = addresses.first else { throw AdapterError("no core address") }
        self.addresses = CoreAddresses(addresses)
        self.host = first.host
        self.port = first.port
        self.certificate = certificate; self.privateKey = privateKey; self.caBundle = caBundle; self.serverName = serverName
        self.crl = crl
    }

    /// Loads the certificate, key and CA: bad TLS material is a configuration error at start,
    /// not something to retry.
    public func makeTLS() throws -> TLSContext {
        try TLSContext.client(TLSConfiguration(
            certificateChainPath: certificate, privateKeyPath: privateKey, trustRootsPath: caBundle, crlPath: crl, serverName: serverName))
    }

    /// One round over the addresses (CoreAddresses.firstConnecting): the first node that answers.
    /// `failed` hears of each address that did not, when there are several.
    public func connect(acceptsPushes: Bool = false, incoming: IncomingRequestHandler? = nil,
                        failed: (CoreAddress, any Error) -> Void = { _, _ in }) async throws -> LinkcoreConnection {
        let tls = try makeTLS()
        let hello = LinkcoreConnection.defaultHello(software: software, acceptsPushes: acceptsPushes)
        return try await addresses.firstConnecting({ address in
            try await LinkcoreConnection.connect(to: .tcp(host: address.host, port: address.port), tls: tls, hello: hello, incoming: incoming)
        }, failed: failed)
    }
}

public struct AdapterError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
