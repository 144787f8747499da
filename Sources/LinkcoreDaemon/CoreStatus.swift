import Foundation
import LinkcoreConfig
import LinkcoreTransport
import LinkcoreWire
import NIOCore

/// What the core reports about itself: the systemd STATUS= line and `linkctl status`.
extension CoreComponents {
    public static let version = "0.1.0"

    func statusLine() -> String {
        let m = metrics.snapshot()
        var line = "\(m.connections) connections, \(String(format: "%.0f", m.requestsPerSecond)) req/s, p99 \(m.p99Micros) µs"
        if m.mediationsPerSecond > 0 {
            line += ", \(String(format: "%.0f", m.mediationsPerSecond)) mediations/s (p99 \(m.mediationP99Micros) µs)"
        }
        let refused = m.mediationOutcomes.filter { $0.key != .answered && $0.value > 0 }.sorted { $0.key.rawValue < $1.key.rawValue }
        if !refused.isEmpty {
            line += ", refused: " + refused.map { "\($0.key.name) \($0.value)" }.joined(separator: " ")
        }
        if let reloadError = live.lastReload.error { line += "; last reload FAILED: \(reloadError)" }
        if let problem = audit.health.snapshot.problem { line += "; ACCESS LOG NOT SIGNED: \(problem)" }
        if let warning = crlState().warning { line += "; CRL: \(warning)" }
        // PostgreSQL out of reach: requests are refused UNAVAILABLE (retryable) until it is back.
        if let problem = store.unavailability { line += "; NOT READY: \(problem)" }
        return line
    }

    /// `linkctl status`: figures, peers, reload, audit, CRL and the change-event queue.
    func status() async -> LCStatus {
        var s = statusWithoutEvents()
        if let counts = await events.counts() {
            s.eventsQueued = counts.queued
            s.eventsDelivered = counts.delivered
            s.eventsPending = counts.pending
        }
        if let notices = try? await store.noticeCounts() {
            s.noticesQueued = notices.queued
            s.noticesDelivered = notices.delivered
            s.noticesPending = notices.queued - notices.delivered
        }
        if let cluster {
            s.nodeName = cluster.settings.name
            s.clusterNodes = await cluster.statusNodes()
        }
        return s
    }

    private func statusWithoutEvents() -> LCStatus {
        let m = metrics.snapshot()
        let config = live.config
        let (reloadAt, reloadError) = live.lastReload
        var s = LCStatus()
        s.version = Self.version
        s.coreID = config.core.id
        s.startedAtMs = Int64(metrics.startedAt.timeIntervalSince1970 * 1000)
        s.listenAddresses = serving.listenAddresses
        s.connections = UInt32(clamping: m.connections)
        s.connectionsTotal = m.connectionsTotal
        s.handshakeFailures = m.handshakeFailures
        s.requestsTotal = m.requestsTotal
        s.inFlight = UInt32(clamping: max(0, m.inFlight))
        s.requestsPerSecond = m.requestsPerSecond
        s.p50Us = m.p50Micros
        s.p99Us = m.p99Micros
        s.mediationsPerSecond = m.mediationsPerSecond
        s.mediationP99Us = m.mediationP99Micros
        s.mediationOutcomes = m.mediationOutcomes.sorted { $0.key.rawValue < $1.key.rawValue }.map { outcome, count in
            var o = LCOutcomeCount(); o.outcome = outcome; o.count = count; return o
        }
        s.droppedProviderReplies = m.droppedProviderReplies
        s.errors = m.errors.sorted { $0.key.rawValue < $1.key.rawValue }.map { code, count in
            var e = LCErrorCount(); e.code = code; e.count = count; return e
        }
        s.draining = serving.draining
        s.lastReloadMs = reloadAt.map { Int64($0.timeIntervalSince1970 * 1000) } ?? 0
        s.lastReloadError = reloadError ?? ""
        s.policyStatus = policy.statusLine
        let auditHealth = audit.health.snapshot
        s.auditSignRefusals = auditHealth.refusals
        s.auditProblem = auditHealth.problem ?? ""
        s.auditSignedPosition = auditHealth.signedPosition
        let crl = crlState()
        s.crlNextUpdateMs = crl.nextUpdate.map { Int64($0.timeIntervalSince1970 * 1000) } ?? 0
        s.crlWarning = crl.warning ?? ""
        s.peers = registry.entries.sorted { $0.connectedAt < $1.connectedAt }.map { e in
            var p = LCPeerStatus()
            p.orgCode = e.orgCode
            p.remoteAddress = e.remoteAddress
            p.connectedAtMs = Int64(e.connectedAt.timeIntervalSince1970 * 1000)
            p.requests = e.requests
            p.inFlight = UInt32(clamping: e.inFlight)
            return p
        }
        return s
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    static func limits(_ config: DaemonConfig) -> ConnectionLimits {
        let l = config.limits
        return ConnectionLimits(
            maxFrameBytes: l.maxFrameBytes,
            maxInFlight: l.maxInFlight,
            frameTimeout: timeAmount(l.frameTimeout),
            idleTimeout: timeAmount(l.idleTimeout),
            keepalive: timeAmount(l.keepalive),
            handshakeTimeout: timeAmount(config.tls.handshakeTimeout),
            writeBufferHighBytes: l.writeBufferHighBytes,
            maxOutboundBytes: l.maxOutboundBytes,
            closeTimeout: timeAmount(l.closeTimeout),
            writeStallTimeout: timeAmount(l.writeStallTimeout))
    }
}
