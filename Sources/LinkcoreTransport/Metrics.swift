import Foundation
import LinkcoreWire
import Synchronization

/// The daemon's live figures, read by `linkctl status` and the systemd STATUS line.
/// Connections report in batches (once per read burst), so the lock is off the per-request path.
/// Each figure is also recorded through swift-metrics (`MetricsInstruments`), which the
/// Prometheus endpoint exposes; those objects are made once here and need no lock of ours.
public final class Metrics: Sendable {
    private struct State {
        var connections = 0
        var connectionsTotal: UInt64 = 0
        var handshakeFailures: UInt64 = 0
        var requestsTotal: UInt64 = 0
        var inFlight = 0
        var errors: [LCErrorCode: UInt64] = [:]
        var requests = LatencyWindow()
        var mediations = LatencyWindow()
        var outcomes: [LCOutcome: UInt64] = [:]
        var droppedProviderReplies: UInt64 = 0
    }

    private let state = Mutex(State())
    private let instruments = MetricsInstruments()
    public let startedAt = Date()

    public init() {}

    static func nowSecond() -> Int64 { Int64(Date().timeIntervalSince1970) }

    public func connectionOpened() {
        state.withLock { $0.connections += 1; $0.connectionsTotal += 1 }
        instruments.connectionsOpen.increment()
        instruments.connectionsAccepted.increment()
    }

    public func connectionClosed() {
        state.withLock { $0.connections -= 1 }
        instruments.connectionsOpen.decrement()
    }

    public func handshakeFailed() { state.withLock { $0.handshakeFailures += 1 } }

    /// One mediation decided: its outcome and the time from request to reply.
    public func mediation(_ outcome: LCOutcome, micros: UInt64) {
        let second = Self.nowSecond()
        state.withLock { s in
            s.mediations.record(micros: micros, at: second)
            s.outcomes[outcome, default: 0] += 1
        }
        instruments.mediations[outcome]?.increment()
        instruments.mediationDuration.recordMicroseconds(micros)
    }

    /// `reply`, counting its outcome under the request's body in `linkcore_requests_total`:
    /// for the domain edge (the daemon's and the matcher's `RequestHandling.handle`).
    public func countingReplies(to request: LCEnvelope, _ reply: Reply) -> Reply {
        guard let counters = instruments.requests[RequestKind(request.body)] else { return reply }
        return Reply { result in
            switch result {
            case .success: counters.ok.increment()
            case .failure: counters.error.increment()
            }
            reply(result)
        }
    }

    /// A provider's answer that came after the deadline, or a second answer: dropped, not relayed.
    func droppedProviderReply() {
        state.withLock { $0.droppedProviderReplies += 1 }
        instruments.droppedProviderReplies.increment()
    }

    /// One read burst's worth of completed requests.
    func record(_ batch: inout MetricsBatch) {
        guard !batch.isEmpty else { return }
        let second = Self.nowSecond()
        state.withLock { s in
            s.requestsTotal += UInt64(batch.latenciesMicros.count + batch.untimed)
            s.requests.count(batch.untimed, at: second)
            for us in batch.latenciesMicros { s.requests.record(micros: us, at: second) }
            for code in batch.errors { s.errors[code, default: 0] += 1 }
            s.inFlight += batch.inFlightDelta
        }
        for us in batch.latenciesMicros { instruments.requestDuration.recordMicroseconds(us) }
        for code in batch.errors {
            instruments.errorReplies[code]?.increment()
            instruments.handshakeRefusals[code]?.increment()
        }
        batch = MetricsBatch()
    }

    public struct Snapshot: Sendable {
        public var connections: Int
        public var connectionsTotal: UInt64
        public var handshakeFailures: UInt64
        public var requestsTotal: UInt64
        public var inFlight: Int
        public var errors: [LCErrorCode: UInt64]
        public var requestsPerSecond: Double
        public var p50Micros: UInt64
        public var p99Micros: UInt64
        public var mediationsPerSecond: Double
        public var mediationP99Micros: UInt64
        public var mediationOutcomes: [LCOutcome: UInt64]
        public var droppedProviderReplies: UInt64
    }

    public func snapshot() -> Snapshot {
        let second = Self.nowSecond()
        return state.withLock { s in
            let r = s.requests.summary(now: second)
            let m = s.mediations.summary(now: second)
            return Snapshot(
                connections: s.connections, connectionsTotal: s.connectionsTotal, handshakeFailures: s.handshakeFailures,
                requestsTotal: s.requestsTotal, inFlight: s.inFlight, errors: s.errors,
                requestsPerSecond: r.perSecond, p50Micros: r.p50, p99Micros: r.p99,
                mediationsPerSecond: m.perSecond, mediationP99Micros: m.p99,
                mediationOutcomes: s.outcomes, droppedProviderReplies: s.droppedProviderReplies)
        }
    }
}

/// What one connection gathers between two reports to `Metrics`.
struct MetricsBatch {
    /// Requests that waited for the domain (time from decode to reply).
    var latenciesMicros: [UInt64] = []
    /// Requests answered at once on the event loop (pings, refusals).
    var untimed = 0
    var errors: [LCErrorCode] = []
    var inFlightDelta = 0
    var isEmpty: Bool { latenciesMicros.isEmpty && untimed == 0 && errors.isEmpty && inFlightDelta == 0 }
}
