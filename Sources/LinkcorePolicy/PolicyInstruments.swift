import LinkcoreInstruments

/// `linkcore_policy_failures_total{kind,reason}` and `linkcore_policy_overruns_total{kind}`,
/// made once per process (first touched by `PolicyHost.init`, so every series exists at 0 from
/// the start); the tables never change, so recording takes no lock of ours. Counted in
/// `PolicySet.decide`, which every decision goes through (the daemon asks the set directly).
struct PolicyInstruments: Sendable {
    static let shared = PolicyInstruments()

    private let failures: [String: Counter]
    private let overruns: [PolicyKind: Counter]

    static let reasons = ["not_configured", "module_failed", "garbage", "deadline_exceeded", "saturated"]

    init() {
        var failures: [String: Counter] = [:]
        for kind in PolicyKind.allCases {
            for reason in Self.reasons {
                failures["\(kind)/\(reason)"] = LinkcoreMetric.policyFailures.counter([("kind", "\(kind)"), ("reason", reason)])
            }
        }
        self.failures = failures
        overruns = Dictionary(uniqueKeysWithValues: PolicyKind.allCases.map {
            ($0, LinkcoreMetric.policyOverruns.counter([("kind", "\($0)")]))
        })
    }

    /// Counts a decision that failed closed; passes the result through.
    func observe<T>(_ kind: PolicyKind, _ result: Result<T, PolicyError>) -> Result<T, PolicyError> {
        guard case .failure(let error) = result else { return result }
        let reason: String
        switch error {
        case .notConfigured: reason = "not_configured"
        case .moduleFailed: reason = "module_failed"
        case .garbage: reason = "garbage"
        case .deadlineExceeded:
            reason = "deadline_exceeded"
            overruns[kind]?.increment()
        case .saturated: reason = "saturated"
        }
        failures["\(kind)/\(reason)"]?.increment()
        return result
    }
}
