/// The pause between reconnection attempts: exponential with full jitter, so that many peers cut
/// off by one core restart do not all come back in the same instant. Shared by every peer that
/// keeps a connection to the core (adapter, portal; `CoreSession.Backoff` is this type).
public struct ReconnectBackoff: Sendable {
    public var initial: Duration
    public var maximum: Duration
    public init(initial: Duration, maximum: Duration) { self.initial = initial; self.maximum = maximum }

    /// The pause before attempt `failures` + 1: uniform in [0, min(max, initial·2^failures)].
    public func delay(afterFailures failures: Int, random: Double = Double.random(in: 0...1)) -> Duration {
        let cap = min(maximum, initial * (1 << min(failures, 30)))
        return cap * max(0, min(1, random))
    }
}
