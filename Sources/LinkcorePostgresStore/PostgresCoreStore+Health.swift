import LinkcoreStore

/// Whether the node can reach PostgreSQL (issue 16: a node that cannot reports not-ready in its
/// STATUS line and in `linkcore_store_reachable`, and refuses work with UNAVAILABLE meanwhile).
extension PostgresCoreStore {
    /// Why the store cannot take work now: a connection whose last attempt failed. Requests find
    /// out on their own (they fail fast within the back-off); this is for STATUS and metrics.
    public var unavailability: String? {
        ([writer.link] + readers).lazy.compactMap(\.problem).first
    }

    /// How often an idle store checks its connections. A lost server is then noticed (and its
    /// return: the back-off ends at 2 s) within a few seconds, with no request needed.
    static let probeInterval = Duration.seconds(2)

    /// Checks every connection now and then, reconnecting a lost one, until `close()`. Holds the
    /// store weakly: a store dropped without `close()` is freed as before.
    func startProbing() {
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.probeInterval)
                guard let self else { return }
                for link in [self.writer.link] + self.readers { await link.check() }
            }
        }
        probe.withLock { $0 = task }
    }
}
