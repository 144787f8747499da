import CoreMetrics
import LinkcoreInstruments
import Prometheus

/// The process's Prometheus registry, bootstrapped into swift-metrics once.
public enum LinkcoreMetricsSystem {
    /// The registry every swift-metrics object of this process records into. The first access
    /// bootstraps `MetricsSystem` (which may happen once per process): call it at the top of
    /// `main`, before anything creates a metric, since a metric binds to the factory in force
    /// when it is created. A Swift `static let` runs its initialiser exactly once, thread-safely.
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = LinkcoreMetric.durationBuckets
        factory.valueHistogramBuckets = LinkcoreMetric.valueBuckets
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// Bootstraps the metrics system (idempotent) and returns the registry.
    @discardableResult
    public static func bootstrap() -> PrometheusCollectorRegistry { registry }

    /// The text exposition (format 0.0.4) of `registry`, with a `# HELP` line for each of
    /// linkcore's families: swift-metrics carries no help text, and `promtool check metrics`
    /// (like an operator reading the scrape) wants one.
    public static func exposition(of registry: PrometheusCollectorRegistry) -> String {
        let text = registry.emitToString()
        var out = ""
        out.reserveCapacity(text.utf8.count + LinkcoreMetric.allCases.count * 100)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE "), let name = line.dropFirst(7).split(separator: " ").first,
               let metric = LinkcoreMetric(rawValue: String(name)) {
                out += "# HELP \(name) \(metric.help)\n"
            }
            out += line
            out += "\n"
        }
        // split keeps the empty piece after the last newline: do not add a second one.
        if out.hasSuffix("\n\n") { out.removeLast() }
        return out
    }
}
