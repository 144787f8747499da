import Synchronization

/// How long provider B's recent replies took, per provider: what the core answers in B's place
/// when B has no live link to the resident must not be told apart by its timing (issue 12,
/// finding 7a). A bounded ring per provider; only B's own replies and timeouts are recorded.
public final class ProviderReplyTimes: Sendable {
    public enum Sample: Sendable, Equatable {
        case replied(Duration)
        case timedOut
    }

    /// Replies kept per provider: enough to follow B's load, small enough to follow it quickly.
    static let capacity = 64
    private let rings = Mutex<[String: (samples: [Sample], next: Int)]>([:])

    public init() {}

    func record(_ provider: String, _ reply: ProviderReply, took: Duration) {
        let sample: Sample
        switch reply {
        case .answered, .refused: sample = .replied(took)
        case .timedOut: sample = .timedOut
        case .unavailable: return  // answered at once by the core, not by B
        }
        rings.withLock { rings in
            var ring = rings[provider] ?? ([], 0)
            if ring.samples.count < Self.capacity { ring.samples.append(sample) } else { ring.samples[ring.next] = sample }
            ring.next = (ring.next + 1) % Self.capacity
            rings[provider] = ring
        }
    }

    /// One of B's recent replies, drawn at random; nil before B has replied at all.
    func sample(_ provider: String) -> Sample? {
        rings.withLock { $0[provider]?.samples.randomElement() }
    }
}

extension Mediator {
    /// What A hears when B has no live link to the resident: what it would hear had B been asked
    /// and had no record. B not connected: PROVIDER_UNAVAILABLE at once, as when B is linked.
    /// Otherwise one of B's recent replies is drawn: a reply that took t is mimicked by NO_RECORD
    /// after t, a timeout by PROVIDER_TIMEOUT at A's deadline. Before B has replied at all, a
    /// short jittered pause (0.2-2 ms, a loopback round trip) stands in for t.
    func answerAsProvider(_ provider: String, deadlineMs: Int64, started: ContinuousClock.Instant) async -> Refusal {
        guard providers.reachable(provider) else { return Self.providerUnavailable }
        let remaining = Duration.milliseconds(max(0, Self.remainingMs(deadlineMs, since: started)))
        switch replyTimes.sample(provider) {
        case let .replied(took)?:
            try? await Task.sleep(for: min(took, remaining))
            return Self.noRecord
        case .timedOut?:
            try? await Task.sleep(for: remaining)
            return Refusal(.providerTimeout, "the provider did not answer within \(deadlineMs) ms", retryable: true)
        case nil:
            try? await Task.sleep(for: .microseconds(Int.random(in: 200...2_000)))
            return Self.noRecord
        }
    }
}
