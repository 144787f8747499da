import Foundation
import LinkcoreClient
import LinkcoreWire
import NIOCore

/// `POST /notices`: a notice to a resident (お知らせ, issue 15 item 4), by the organisation's
/// person ID; the adapter supplies its link code, the core converts it to the portal's and
/// delivers it. Every send carries an idempotency key (the caller's, or one made here) and a
/// retryable failure is retried with the same key, so a reply lost on the way back never makes
/// two notices (protocol.md §14).
extension AdapterService {
    public struct NoticeRequest: Sendable {
        public var personID: String
        public var noticeType: String
        public var title: String
        public var body: String
        public var idempotencyKey: String?
    }

    public struct NoticeReceipt: Sendable {
        public var noticeID: String
        public var idempotencyKey: String
        public var repeated: Bool
        public var sentAtMs: Int64
        public var attempts: Int
    }

    public func sendNotice(_ request: NoticeRequest) async throws(WireError) -> NoticeReceipt {
        guard let link = try? await links.link(personID: request.personID) else {
            throw WireError(.notFound, "no link for person \(request.personID) in this adapter's link table")
        }
        let send = LCSendNotice.with {
            $0.linkCode = link.linkCode; $0.noticeType = request.noticeType; $0.title = request.title; $0.body = request.body
            $0.idempotencyKey = request.idempotencyKey ?? "adapter-" + UUID().uuidString.lowercased()
        }
        let wait = Self.amount(settings.requestTimeout)
        let giveUpAt = ContinuousClock.now + settings.requestTimeout
        var sends = 0
        while true {
            guard !Task.isCancelled else { throw Self.cancelled }
            guard let connection = try? core.connection() else {
                guard ContinuousClock.now + Self.reconnectPoll < giveUpAt else {
                    throw WireError(.unavailable, "not connected to the core (reconnecting)", retryable: true)
                }
                try? await Task.sleep(for: Self.reconnectPoll)
                continue
            }
            sends += 1
            do {
                let response = try await sendOnce(send, on: connection, wait: wait)
                return NoticeReceipt(noticeID: response.noticeID, idempotencyKey: send.idempotencyKey, repeated: response.repeated,
                                     sentAtMs: response.sentAtMs, attempts: sends)
            } catch {
                let pause = max(Duration.milliseconds(Int(error.retryAfterMs)), Self.backoffForAsk(afterFailures: sends))
                guard error.retryable, sends < Self.maxAskAttempts, ContinuousClock.now + pause < giveUpAt else { throw error }
                logger.info("notice failed; retrying with the same idempotency key", metadata: [
                    "idempotency_key": "\(send.idempotencyKey)", "attempt": "\(sends)", "error": "\(error)",
                ])
                try? await Task.sleep(for: pause)
            }
        }
    }

    /// One send: a reply, a typed refusal, or UNAVAILABLE (retryable) when the connection is gone
    /// or never answers (the core may or may not have stored it: hence the key).
    private func sendOnce(_ send: LCSendNotice, on connection: LinkcoreConnection, wait: TimeAmount) async throws(WireError) -> LCSendNoticeResponse {
        do {
            guard case let .sendNoticeResponse(response)? = try await connection.request(.sendNotice(send), timeout: wait) else {
                throw WireError(.internal, "the core answered with another body")
            }
            return response
        } catch let error as WireError {
            throw error
        } catch {
            throw WireError(.unavailable, "the core did not answer: \(error)", retryable: true)
        }
    }
}
