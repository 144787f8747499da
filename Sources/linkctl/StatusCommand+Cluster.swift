import LinkcoreWire

extension StatusCommand {
    /// The cluster part of `linkctl status` (issue 16): the node asked, then every node of the
    /// presence table with its lease and its organisations. Nothing for a single node.
    static func renderCluster(_ s: LCStatus) -> [String] {
        guard !s.nodeName.isEmpty else { return [] }
        var lines = ["node: \(s.nodeName)", "cluster nodes:"]
        for node in s.clusterNodes {
            let state = node.leaseLeftMs > 0 ? "lease \(node.leaseLeftMs) ms left" : "EXPIRED \(-node.leaseLeftMs) ms ago"
            let me = node.name == s.nodeName ? " (this node)" : ""
            let orgs = node.orgs.isEmpty ? "-" : node.orgs.joined(separator: ",")
            lines.append("  \(node.name)\(me)  \(node.address)  heartbeat \(node.heartbeatAgeMs) ms ago  \(state)  peers \(orgs)")
        }
        return lines
    }
}
