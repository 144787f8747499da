import Foundation
import LinkcoreWire
import Synchronization

/// What the matcher checks about the requesting organisation before it looks at the facts
/// (issue 12, finding 7b). Any certificate of the network CA reaches the matcher; without these
/// checks an organisation that may not hold links learned whether the facts matched a resident
/// (MATCH_FAILED for none, the core's ORG_* refusal for one), with no link and no log entry.
extension MatcherService {
    /// Nil when the core confirms the organisation is registered, not suspended, and of a role
    /// that holds links; else the refusal, the same whatever the facts are.
    func requesterRefusal(_ orgCode: String) async -> WireError? {
        do {
            guard case let .orgResponse(response)? = try await core.request(.orgShow(.with { $0.code = orgCode })) else {
                return WireError(.unavailable, "the core did not confirm the requesting organisation", retryable: true)
            }
            if response.org.suspended { return WireError(.orgSuspended, "organisation \(orgCode) is suspended") }
            guard [.agency, .privateConnector, .portal].contains(response.org.role) else {
                return WireError(.permissionDenied, "organisation \(orgCode) does not hold links; it may not request matches")
            }
            return nil
        } catch let error as WireError where error.code == .orgUnknown {
            return WireError(.orgUnknown, "organisation \(orgCode) is not registered")
        } catch {
            return WireError(.unavailable, "the core cannot confirm the requesting organisation now", retryable: true)
        }
    }
}

/// Failed matches per organisation in a sliding window: guessing facts or My Numbers is slowed
/// to `limit` failures per `window`. Checked before matching, so a limited organisation's
/// answer is the same whatever it sends.
final class FailedMatchLimiter: Sendable {
    let limit: Int
    let window: Duration
    private let failures = Mutex<[String: [ContinuousClock.Instant]]>([:])

    init(limit: Int, window: Duration) {
        self.limit = limit
        self.window = window
    }

    /// How long until `org` may try again; nil when it may now.
    func retryAfter(_ org: String, now: ContinuousClock.Instant = .now) -> Duration? {
        failures.withLock { all in
            let recent = (all[org] ?? []).filter { now - $0 < window }
            all[org] = recent.isEmpty ? nil : recent
            guard recent.count >= limit, let oldest = recent.first else { return nil }
            return window - (now - oldest)
        }
    }

    func recordFailure(_ org: String, now: ContinuousClock.Instant = .now) {
        failures.withLock { $0[org, default: []].append(now) }
    }
}
