extension DaemonConfig {
    /// `[policy]`: the policy modules (see docs/policy-modules.md). Loaded at start and on every
    /// reload; a set that fails to load leaves the previous one in force.
    public struct Policy: Sendable, Equatable {
        public struct Module: Sendable, Equatable {
            public var kind: PolicyModuleKind
            /// The shared object (absolute once loaded).
            public var path: String
            /// The module's own configuration file, handed to its init; nil for none.
            public var config: String?

            public init(kind: PolicyModuleKind, path: String, config: String? = nil) {
                self.kind = kind
                self.path = path
                self.config = config
            }
        }

        /// In order: several whitelist modules compose (all must permit); at most one fees and one events.
        public var modules: [Module]
        /// How long one decision may take before the request fails closed with POLICY_FAILURE.
        public var decisionDeadline: Duration
        /// Threads per module running decisions; a hung decision holds one until it returns.
        public var workersPerModule: Int

        public init(modules: [Module] = [], decisionDeadline: Duration = .milliseconds(50), workersPerModule: Int = 4) {
            self.modules = modules
            self.decisionDeadline = decisionDeadline
            self.workersPerModule = workersPerModule
        }
    }
}

/// What a policy module decides, as written in `[[policy.module]] kind`.
public enum PolicyModuleKind: String, Sendable, Equatable, CaseIterable {
    case whitelist, fees, events
}
