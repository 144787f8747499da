/// Which modules make up a policy set, as the daemon's `[policy]` table names them.
public struct PolicySpec: Sendable, Equatable {
    public struct Module: Sendable, Equatable {
        public var kind: PolicyKind
        /// The shared object.
        public var path: String
        /// The module's own configuration file, read by the host and handed to init; nil for none.
        public var config: String?

        public init(kind: PolicyKind, path: String, config: String? = nil) {
            self.kind = kind
            self.path = path
            self.config = config
        }
    }

    /// In order. Several whitelist modules compose: every one must permit (the first is the table,
    /// the others are filters such as a rate limit). At most one fees and one events module.
    public var modules: [Module]
    /// How long one decide call may take before the request fails closed.
    public var deadline: Duration
    /// Threads per module that run decide calls; a hung call occupies one until it returns.
    public var workersPerModule: Int

    public init(modules: [Module], deadline: Duration = .milliseconds(50), workersPerModule: Int = 4) {
        self.modules = modules
        self.deadline = deadline
        self.workersPerModule = workersPerModule
    }
}
