import AsyncHTTPClient
import Foundation
import LinkcoreWire
import NIOCore

/// Answers by POSTing the question as JSON to the organisation's own system, over AsyncHTTPClient.
///
/// The contract (docs/adapter.md): request body `ProvideQuestion` in snake_case JSON; a 200
/// reply `{"answer": "..."}` is the answer; any reply `{"refused": "CODE"}` refuses with the
/// organisation's own code. No reply within `timeout` → BACKEND_TIMEOUT; unreachable, another
/// status or bad JSON → BACKEND_FAILED. Each call has one deadline for the whole exchange
/// (connect, head and body): `timeout`, cut at the core's deadline, past which the core has
/// already told the asker PROVIDER_TIMEOUT.
public final class WebhookBackend: AnswerBackend {
    let url: URL
    let timeout: Duration
    let client: HTTPClient
    public let name = "webhook"
    /// A reply larger than this is not an answer the core would relay (BACKEND_FAILED).
    static let maxReplyBytes = 1 << 20

    public init(url: URL, timeout: Duration) {
        self.url = url
        self.timeout = timeout
        self.client = Self.sharedClient
    }

    /// One client for the process, a global like `HTTPClient.shared` (so never deinitialised
    /// without a shutdown), whose pool outlives a call. Unlike the shared one it does not retry a
    /// refused connection until the deadline: a system that is down is BACKEND_FAILED at once,
    /// not BACKEND_TIMEOUT.
    static let sharedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    struct Reply: Decodable {
        var answer: String?
        var refused: String?
    }

    public func answer(_ question: ProvideQuestion) async -> Result<Data, WireError> {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: (try? encoder.encode(question)) ?? Data("{}".utf8)))
        let untilDeadline = Duration.milliseconds(max(0, question.deadlineAtMs - Int64(Date().timeIntervalSince1970 * 1000)))
        let wait = question.deadlineAtMs > 0 ? min(timeout, untilDeadline) : timeout
        let deadline = NIODeadline.now() + .nanoseconds(Int64(wait / .nanoseconds(1)))
        let status: UInt
        let body: ByteBuffer
        do {
            let response = try await client.execute(request, deadline: deadline)
            status = response.status.code
            body = try await response.body.collect(upTo: Self.maxReplyBytes)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return .failure(ProviderCodes.refused(ProviderCodes.backendTimeout, "the organisation's system did not answer in time"))
        } catch {
            // Past the deadline whatever the error says (a cancelled body read, say): a timeout.
            if NIODeadline.now() >= deadline {
                return .failure(ProviderCodes.refused(ProviderCodes.backendTimeout, "the organisation's system did not answer in time"))
            }
            return .failure(ProviderCodes.refused(ProviderCodes.backendFailed, "the organisation's system is unreachable"))
        }
        let reply = try? JSONDecoder().decode(Reply.self, from: Data(body.readableBytesView))
        if let code = reply?.refused, !code.isEmpty {
            return .failure(ProviderCodes.refused(String(code.prefix(64)), "refused by the organisation's system"))
        }
        guard status == 200, let answer = reply?.answer else {
            return .failure(ProviderCodes.refused(ProviderCodes.backendFailed, "the organisation's system failed (HTTP \(status))"))
        }
        return .success(Data(answer.utf8))
    }
}
