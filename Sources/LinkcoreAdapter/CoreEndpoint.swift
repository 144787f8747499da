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

    public init(address: String, certificate: String, privateKey: String, caBundle: String, serverName: String = "localhost",
                crl: String? = nil) throws {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw AdapterError("expected host:port, got \"\(address)\"")
        }
        self.host = String(address[..<colon])
        self.port = port
        self.certificate = certificate; self.privateKey = privateKey; self.caBundle = caBundle; self.serverName = serverName
        self.crl = crl
    }

    /// Loads the certificate, key and CA: bad TLS material is a configuration error at start,
    /// not something to retry.
    public func makeTLS() throws -> TLSContext {
        try TLSContext.client(TLSConfiguration(
            certificateChainPath: certificate, privateKeyPath: privateKey, trustRootsPath: caBundle, crlPath: crl, serverName: serverName))
    }

    public func connect(acceptsPushes: Bool = false, incoming: IncomingRequestHandler? = nil) async throws -> LinkcoreConnection {
        let tls = try makeTLS()
        return try await LinkcoreConnection.connect(
            to: .tcp(host: host, port: port), tls: tls,
            hello: LinkcoreConnection.defaultHello(software: software, acceptsPushes: acceptsPushes),
            incoming: incoming)
    }
}

public struct AdapterError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
