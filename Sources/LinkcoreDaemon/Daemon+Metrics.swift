import Foundation
import LinkcoreInstruments
import LinkcoreMetrics
import LinkcoreLifecycle
import LinkcorePKI
import Logging
import ServiceLifecycle

/// Issue 13 item 7: the `[metrics]` endpoint and the gauges only the daemon can read (events
/// pending, certificate expiry). The counters and histograms are recorded where things happen
/// (transport `Metrics`, group commit, policy host); these two are state, read periodically.
extension Daemon {
    /// The `GET /metrics` endpoint and the gauge refresher, when `[metrics] listen` is set (read at
    /// start; a reload does not turn it on or off); none without it: nothing is measured for
    /// nobody. A failure of the endpoint (its port taken) is logged and does not stop the core:
    /// metrics are for the operator, mediations are for everyone.
    func metricsServices() -> [any Service] {
        guard let listen = core.live.config.metrics.listen else { return [] }
        let (core, gauges) = (self.core, DaemonGauges())
        let endpoint = MetricsEndpoint(host: listen.host, port: listen.port, logger: log)
        return [
            endpoint.loggingFailures,
            BackgroundService.periodic("metrics gauges", every: { .seconds(5) }, tickAtStart: true) { await gauges.refresh(core) },
        ]
    }
}

/// `linkcore_events_pending` and `linkcore_certificate_expiry_seconds{certificate}`.
struct DaemonGauges: Sendable {
    let eventsPending = LinkcoreMetric.eventsPending.gauge()
    let serverExpiry = LinkcoreMetric.certificateExpiry.gauge([("certificate", "server")])
    let caExpiry = LinkcoreMetric.certificateExpiry.gauge([("certificate", "ca")])

    func refresh(_ core: CoreComponents, now: Date = Date()) async {
        if let counts = await core.events.counts() { eventsPending.record(counts.pending) }
        // Read from the files each time: a reload may have replaced them.
        let tls = core.live.config.tls
        Self.expiry(ofFirstCertificateIn: tls.certificate, now: now).map { serverExpiry.record($0) }
        Self.expiry(ofFirstCertificateIn: tls.caBundle, now: now).map { caExpiry.record($0) }
    }

    /// Seconds from `now` to the notAfter of the file's first certificate; nil if unreadable.
    static func expiry(ofFirstCertificateIn path: String, now: Date) -> Double? {
        guard let pem = try? String(contentsOfFile: path, encoding: .utf8),
              let info = try? CertificateInfo.parse(pem: pem) else { return nil }
        return info.notAfter.timeIntervalSince(now).rounded()
    }
}
