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

extension Section {
    static let policyKeys = ["decision_deadline_ms", "workers_per_module", "module"]
    static let moduleKeys = ["kind", "path", "config"]

    /// `[policy]` with its `[[policy.module]]` entries; no table means no modules.
    func policy() throws(ConfigError) -> DaemonConfig.Policy {
        let deadline = try milliseconds("decision_deadline_ms", default: 50, range: 1...60_000)
        let workers = try integer("workers_per_module", default: 4, range: 1...64)
        var modules: [DaemonConfig.Policy.Module] = []
        if let item = table.item("module") {
            let expectation = "expected [[policy.module]] tables with kind, path and config"
            guard case .array(let elements) = item.value else {
                throw error(.wrongType, "module", "\(expectation), got \(item.value.literal)")
            }
            for element in elements {
                guard case .table(let t) = element.value else {
                    throw error(.wrongType, "module", "\(expectation), got \(element.value.literal)", line: element.position.line)
                }
                let entry = Section(name: "policy.module", table: t, validKeys: Self.moduleKeys, context: context)
                try entry.checkUnknownKeys()
                guard t.item("kind") != nil else { throw entry.error(.missingRequired, "kind", "missing required key") }
                let kind: PolicyModuleKind = try entry.enumeration("kind", default: .whitelist)
                guard let (rawPath, line) = try entry.pathItem("path") else {
                    throw entry.error(.missingRequired, "path", "missing required key (the module's shared object)")
                }
                let path = try entry.resolve(rawPath, key: "path", line: line, allowCredential: false)
                var config: String?
                if let (rawConfig, configLine) = try entry.pathItem("config") {
                    config = try entry.resolve(rawConfig, key: "config", line: configLine, allowCredential: true)
                }
                modules.append(.init(kind: kind, path: path, config: config))
            }
        }
        for kind in [PolicyModuleKind.fees, .events] where modules.filter({ $0.kind == kind }).count > 1 {
            throw error(.invalidValue, "module", "more than one \(kind.rawValue) module; a policy set has at most one")
        }
        return DaemonConfig.Policy(modules: modules, decisionDeadline: deadline, workersPerModule: workers)
    }
}

/// What a policy module decides, as written in `[[policy.module]] kind`.
public enum PolicyModuleKind: String, Sendable, Equatable, CaseIterable {
    case whitelist, fees, events
}
