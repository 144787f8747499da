import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LinkcoreWire

/// Answers by POSTing the question as JSON to the organisation's own system.
///
/// The contract (docs/adapter.md): request body `ProvideQuestion` in snake_case JSON; a 200
/// reply `{"answer": "..."}` is the answer; any reply `{"refused": "CODE"}` refuses with the
/// organisation's own code. No reply within `timeout` → BACKEND_TIMEOUT; unreachable, another
/// status or bad JSON → BACKEND_FAILED. The wait is also cut at the core's deadline: past it,
/// the core has already told the asker PROVIDER_TIMEOUT.
public final class WebhookBackend: AnswerBackend {
    let url: URL
    let timeout: Duration
    let session: URLSession
    public let name = "webhook"

    public init(url: URL, timeout: Duration) {
        self.url = url
        self.timeout = timeout
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        session = URLSession(configuration: configuration)
    }

    struct Reply: Decodable {
        var answer: String?
        var refused: String?
    }

    public func answer(_ question: ProvideQuestion) async -> Result<Data, WireError> {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try? encoder.encode(question)
        let untilDeadline = Duration.milliseconds(max(0, question.deadlineAtMs - Int64(Date().timeIntervalSince1970 * 1000)))
        let wait = question.deadlineAtMs > 0 ? min(timeout, untilDeadline) : timeout
        request.timeoutInterval = max(0.01, Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)
        let session = self.session
        let prepared = request
        // Race the call against our own timer: URLSession's timeout is per-idle-interval.
        let outcome = await withTaskGroup(of: Result<(Data, URLResponse), any Error>?.self) { group in
            group.addTask {
                do { return .success(try await session.data(for: prepared)) } catch { return .failure(error) }
            }
            group.addTask {
                try? await Task.sleep(for: wait)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let outcome else {
            return .failure(ProviderCodes.refused(ProviderCodes.backendTimeout, "the organisation's system did not answer in time"))
        }
        switch outcome {
        case let .failure(error as URLError) where error.code == .timedOut:
            return .failure(ProviderCodes.refused(ProviderCodes.backendTimeout, "the organisation's system did not answer in time"))
        case .failure:
            return .failure(ProviderCodes.refused(ProviderCodes.backendFailed, "the organisation's system is unreachable"))
        case let .success((data, response)):
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            let reply = try? JSONDecoder().decode(Reply.self, from: data)
            if let code = reply?.refused, !code.isEmpty {
                return .failure(ProviderCodes.refused(String(code.prefix(64)), "refused by the organisation's system"))
            }
            guard status == 200, let answer = reply?.answer else {
                return .failure(ProviderCodes.refused(ProviderCodes.backendFailed, "the organisation's system failed (HTTP \(status))"))
            }
            return .success(Data(answer.utf8))
        }
    }
}
