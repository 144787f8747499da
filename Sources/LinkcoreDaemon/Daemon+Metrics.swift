import Foundation
import LinkcoreInstruments
import LinkcoreMetrics
import LinkcorePKI
import Logging

/// Issue 13 item 7: the `[metrics]` endpoint and the gauges only the daemon can read (events
/// pending, certificate expiry). The counters and histograms are recorded where things happen
/// (transport `Metrics`, group commit, policy host); these two are state, read periodically.
extension Daemon {
    /// Serves `GET /metrics` when `[metrics] listen` is set, refreshing the gauges every 5 s,
    /// until the task is cancelled. Without the setting it returns at once: nothing is measured
    /// for nobody. (Started from linkcored's main; the lifecycle work folds both into the
    /// ServiceGroup: `MetricsEndpoint` is a `Service`.)
    public func runMetrics() async {
        guard let listen = currentConfig.metrics.listen else { return }
        let endpoint = MetricsEndpoint(host: listen.host, port: listen.port, logger: logger)
        let gauges = DaemonGauges()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [logger] in
                do {
                    try await endpoint.run()
                } catch {
                    logger.error("metrics endpoint failed", metadata: ["address": "\(listen)", "error": "\(error)"])
                }
            }
            group.addTask { [self] in
                while !Task.isCancelled {
                    await gauges.refresh(self)
                    try? await Task.sleep(for: .seconds(5))
                }
            }
            await group.waitForAll()
        }
    }
}

/// `linkcore_events_pending` and `linkcore_certificate_expiry_seconds{certificate}`.
struct DaemonGauges: Sendable {
    let eventsPending = LinkcoreMetric.eventsPending.gauge()
    let serverExpiry = LinkcoreMetric.certificateExpiry.gauge([("certificate", "server")])
    let caExpiry = LinkcoreMetric.certificateExpiry.gauge([("certificate", "ca")])

    func refresh(_ daemon: Daemon, now: Date = Date()) async {
        if let counts = await daemon.events.counts() { eventsPending.record(counts.pending) }
        // Read from the files each time: a reload may have replaced them.
        let tls = daemon.currentConfig.tls
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
