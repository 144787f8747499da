/// What several linkcored nodes on one database share beyond the core's state (issue 16): which
/// node holds each organisation's live connection (presence, under a lease per node), and the
/// claim of change events by the node that delivers them. Only the PostgreSQL engine has it; a
/// single node on SQLite never asks (no presence lookups on its path).
///
/// Lease times are the database's clock, so nodes whose clocks differ still agree on who is alive.
public protocol ClusterStore: Sendable {
    /// Renews `node`'s lease for `leaseMs` and makes its presence rows exactly `orgs`, in one
    /// write (a new node's row is created). Returns every *other* node's live presence.
    func heartbeat(node: String, address: String, orgs: Set<String>, leaseMs: Int64) async throws -> [String: [NodeAddress]]
    /// The live nodes other than `excluding` that hold a connection of `orgCode`.
    func holders(of orgCode: String, excluding node: String) async throws -> [NodeAddress]
    /// Every node with a row, live or expired, with its organisations (linkctl status).
    func clusterNodes() async throws -> [ClusterNodeRow]
    /// Drops the node's presence and ends its lease (at shutdown): others stop forwarding at once.
    func leave(node: String) async throws
    /// Claims up to `limit` of the organisation's due events for `node` until `leaseUntilMs`
    /// (FOR UPDATE SKIP LOCKED: two nodes never claim the same event at once).
    func claimEvents(orgCode: String, node: String, dueBy nowMs: Int64, leaseUntilMs: Int64, limit: Int) async throws -> [PendingEvent]
}

/// A node as the others reach it.
public struct NodeAddress: Sendable, Hashable {
    public var name: String
    /// "host:port" of its [node] listener.
    public var address: String
    public init(name: String, address: String) { self.name = name; self.address = address }
}

public struct ClusterNodeRow: Sendable, Equatable {
    public var name: String
    public var address: String
    public var heartbeatAgeMs: Int64
    /// Negative once the lease has run out (the node is gone; its presence is ignored).
    public var leaseLeftMs: Int64
    public var orgs: [String]
    public init(name: String, address: String, heartbeatAgeMs: Int64, leaseLeftMs: Int64, orgs: [String]) {
        self.name = name; self.address = address; self.heartbeatAgeMs = heartbeatAgeMs; self.leaseLeftMs = leaseLeftMs; self.orgs = orgs
    }
}
