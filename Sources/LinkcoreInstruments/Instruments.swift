// Re-exported so that a layer that records (SQLite, policy, transport) needs only this target.
@_exported import CoreMetrics

/// Every metric linkcore records, in one place: name, type, labels and help text.
///
/// Names follow Prometheus conventions (`linkcore_` prefix, `_total` counters, base units such as
/// `_seconds`). Code records through swift-metrics (`Counter`, `Meter`, `Timer`, ...), created once
/// per process or per long-lived object from these cases, never per request: a metric object
/// binds to the factory that `MetricsSystem` has when it is created, and creating one costs a
/// registry lookup under a lock. Without a bootstrap (unit tests, benchmarks) they record nowhere.
public enum LinkcoreMetric: String, CaseIterable, Sendable {
    // Connections (linkcored, linkcore-matcher: LinkcoreTransport's `Metrics`)
    case connectionsOpen = "linkcore_connections_open"
    case connectionsAccepted = "linkcore_connections_accepted_total"
    case handshakeRefusals = "linkcore_handshake_refusals_total"
    case errorReplies = "linkcore_error_replies_total"
    case droppedProviderReplies = "linkcore_dropped_provider_replies_total"
    // Requests (the domain edge: linkcored's CoreService, the matcher's MatcherService)
    case requests = "linkcore_requests_total"
    case requestDuration = "linkcore_request_duration_seconds"
    // Mediations (linkcored)
    case mediations = "linkcore_mediations_total"
    case mediationDuration = "linkcore_mediation_duration_seconds"
    // Durable writes (LinkcoreSQLite's group commit: all three executables)
    case groupCommitBatchSize = "linkcore_group_commit_batch_size"
    case groupCommitDuration = "linkcore_group_commit_fsync_duration_seconds"
    // Policy modules (LinkcorePolicy's host)
    case policyFailures = "linkcore_policy_failures_total"
    case policyOverruns = "linkcore_policy_overruns_total"
    // Events and certificates (linkcored)
    case eventsPending = "linkcore_events_pending"
    case certificateExpiry = "linkcore_certificate_expiry_seconds"
    // The store (linkcored on PostgreSQL)
    case storeReachable = "linkcore_store_reachable"

    /// The `# HELP` line: swift-metrics has no help text, so the exposition adds it from here.
    public var help: String {
        switch self {
        case .connectionsOpen: "Connections open now (TLS handshake, Hello or session)."
        case .connectionsAccepted: "Connections accepted since start."
        case .handshakeRefusals: "Connections refused before a session opened, by reason (the error code sent)."
        case .errorReplies: "Error envelopes sent to peers, by error code (refusals included)."
        case .droppedProviderReplies: "Provider answers dropped: after the deadline, or a second answer."
        case .requests: "Requests handed to the domain, by body and outcome (ok or error)."
        case .requestDuration: "Time from a domain request's decode to its reply."
        case .mediations: "Mediations decided, by outcome."
        case .mediationDuration: "Time from a mediation request to its decision, provider round trip included."
        case .groupCommitBatchSize: "Writes carried by one durable SQLite commit, by database."
        case .groupCommitDuration: "Time of one SQLite COMMIT (synchronous=FULL: the fsync), by database."
        case .policyFailures: "Policy decisions that failed closed, by policy kind and reason."
        case .policyOverruns: "Policy decisions that ran past the decision deadline, by policy kind."
        case .eventsPending: "Change events stored and not yet acknowledged by their organisation."
        case .certificateExpiry: "Seconds until the certificate's notAfter (negative once expired), by certificate (server, ca)."
        case .storeReachable: "1 while the store's database connection is open, 0 while it cannot be reached or refuses writes (a full disk, an I/O error), by connection."
        }
    }

    // MARK: Creating the swift-metrics objects (once, not per request)

    public func counter(_ dimensions: [(String, String)] = []) -> Counter {
        Counter(label: rawValue, dimensions: dimensions)
    }

    /// A gauge that goes up and down by steps (open connections).
    public func meter(_ dimensions: [(String, String)] = []) -> Meter {
        Meter(label: rawValue, dimensions: dimensions)
    }

    /// A gauge that is set to a value (pending events, seconds to expiry).
    public func gauge(_ dimensions: [(String, String)] = []) -> Gauge {
        Gauge(label: rawValue, dimensions: dimensions)
    }

    /// A histogram of durations, exposed in seconds with `durationBuckets`.
    public func timer(_ dimensions: [(String, String)] = []) -> CoreMetrics.Timer {
        CoreMetrics.Timer(label: rawValue, dimensions: dimensions)
    }

    /// A histogram of plain values (batch sizes), with `valueBuckets`.
    public func histogram(_ dimensions: [(String, String)] = []) -> Recorder {
        Recorder(label: rawValue, dimensions: dimensions, aggregate: true)
    }

    // MARK: Buckets

    /// Histogram buckets of the duration metrics. Mediations include a provider's round trip
    /// (deadline 5 s by default); a commit is one fsync (sub-millisecond on NVMe, ~10 ms on disks).
    public static let durationBuckets: [String: [Duration]] = [
        LinkcoreMetric.requestDuration.rawValue: milliseconds([0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 5000]),
        LinkcoreMetric.mediationDuration.rawValue: milliseconds([0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]),
        LinkcoreMetric.groupCommitDuration.rawValue: milliseconds([0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000]),
    ]

    /// Histogram buckets of the value metrics: group sizes up to the queue's cap of 1024.
    public static let valueBuckets: [String: [Double]] = [
        LinkcoreMetric.groupCommitBatchSize.rawValue: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    ]

    private static func milliseconds(_ values: [Double]) -> [Duration] {
        values.map { Duration.microseconds(Int64($0 * 1000)) }
    }

    /// A label value from a protocol name: "CERTIFICATE_REJECTED" → "certificate_rejected".
    public static func labelValue(_ protoName: String) -> String { protoName.lowercased() }
}

extension CoreMetrics.Timer {
    /// Records a `Duration` (a clock's difference) in nanoseconds.
    public func recordElapsed(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        recordNanoseconds(seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000)
    }
}
