import LinkcoreConfig
import LinkcorePolicy

/// Maps `[policy]` onto the policy host. Integration point for mediation, fees and events: the
/// request path asks `Daemon.policy` (it is a `Whitelist`, `FeePolicy` and `EventRouting`) and
/// answers a `PolicyError` with its `wireError` (POLICY_FAILURE).
enum DaemonPolicy {
    static func spec(_ config: DaemonConfig) -> PolicySpec {
        PolicySpec(
            modules: config.policy.modules.map { module in
                let kind: PolicyKind =
                    switch module.kind {
                    case .whitelist: .whitelist
                    case .fees: .fees
                    case .events: .events
                    }
                return PolicySpec.Module(kind: kind, path: module.path, config: module.config)
            },
            deadline: config.policy.decisionDeadline, workersPerModule: config.policy.workersPerModule)
    }

    /// Loads the configured set (at start, and on reload). Throws when any module fails: at start
    /// the daemon refuses to run with a policy it was told to use but cannot load; on reload the
    /// previous set stays in force. A config with no modules loads nothing until it names some
    /// (and, once a set was loaded, swaps in an empty set: every decision then fails closed).
    static func load(_ config: DaemonConfig, into host: PolicyHost) throws(PolicyLoadError) {
        guard !config.policy.modules.isEmpty || host.current != nil else { return }
        if case .failure(let error) = host.load(spec(config)) { throw error }
    }
}
