import AsyncHTTPClient
import Foundation
import NIOCore

/// OCSP over HTTP POST (RFC 6960 appendix A.1) with AsyncHTTPClient's shared client.
public struct HTTPOCSPTransport: OCSPTransport {
    /// Far above any single OCSP response (a few KiB), so a hostile responder cannot exhaust memory.
    static let maxResponseBytes = 256 * 1024

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    let client: HTTPClient

    public init() { client = Self.sharedClient }

    public init(client: HTTPClient) { self.client = client }

    /// One client for the process (a global, never deinitialised without a shutdown). Unlike
    /// `HTTPClient.shared` it does not retry a refused connection until the deadline: a responder
    /// that is down sends the login to the CRL at once, not after the whole timeout.
    static let sharedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    public func post(_ request: [UInt8], to url: URL, timeout: Duration) async throws -> [UInt8] {
        var http = HTTPClientRequest(url: url.absoluteString)
        http.method = .POST
        http.headers.add(name: "Content-Type", value: "application/ocsp-request")
        http.headers.add(name: "Accept", value: "application/ocsp-response")
        http.body = .bytes(ByteBuffer(bytes: request))
        // One deadline for the answer's headers and body alike.
        let deadline = NIODeadline.now() + .nanoseconds(Int64(timeout / .nanoseconds(1)))
        let response = try await client.execute(http, deadline: deadline)
        guard response.status == .ok else { throw Failure(description: "HTTP \(response.status.code)") }
        let body = try await response.body.collect(upTo: Self.maxResponseBytes)
        return Array(buffer: body)
    }
}
