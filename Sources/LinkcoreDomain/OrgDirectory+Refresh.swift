import LinkcoreStore

extension OrgDirectory {
    /// Re-reads every organisation from the store. With several nodes on one database (issue 16)
    /// an organisation added, suspended or re-keyed through another node's admin socket reaches
    /// this node's directory at its next heartbeat; admission is checked on every request
    /// against it. Left as it is when the store cannot be read.
    public func refresh() async {
        guard let all = try? await store.organisations() else { return }
        var fresh: [String: Organisation] = [:]
        for org in all { fresh[org.code] = org }
        cache.withLock { $0 = fresh }
    }
}
