import LinkcoreStore
import PostgresNIO

extension PostgresSchema {
    /// Migration 2 (issue 16, several nodes): the nodes and their presence. One lease per node
    /// (`cluster_nodes.lease_until`), not per presence row: a heartbeat renews one row however
    /// many organisations the node holds, and a dead node's presence expires with its lease.
    /// Times are milliseconds of the database's clock.
    static let clusterMigration: [String] = [
        """
        CREATE TABLE cluster_nodes (
            name         TEXT PRIMARY KEY,
            address      TEXT NOT NULL,
            started_at   BIGINT NOT NULL,
            heartbeat_at BIGINT NOT NULL,
            lease_until  BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE cluster_presence (
            org_code TEXT NOT NULL,
            node     TEXT NOT NULL REFERENCES cluster_nodes(name) ON DELETE CASCADE,
            since    BIGINT NOT NULL,
            PRIMARY KEY (org_code, node)
        )
        """,
        "CREATE INDEX cluster_presence_node ON cluster_presence(node)",
    ]
}

/// The database's clock in milliseconds: the one clock every node's lease is measured by.
private let dbNow = "(extract(epoch from clock_timestamp()) * 1000)::bigint"

extension PostgresCoreStore: ClusterStore {
    public func heartbeat(node: String, address: String, orgs: Set<String>, leaseMs: Int64) async throws -> [String: [NodeAddress]] {
        let list = orgs.sorted()
        try await write { db in
            try await db.execute("""
                INSERT INTO cluster_nodes (name, address, started_at, heartbeat_at, lease_until)
                VALUES (\(node), \(address), \(unescaped: dbNow), \(unescaped: dbNow), \(unescaped: dbNow) + \(leaseMs))
                ON CONFLICT (name) DO UPDATE SET address = EXCLUDED.address, heartbeat_at = EXCLUDED.heartbeat_at,
                    lease_until = EXCLUDED.lease_until
                """)
            try await db.execute("DELETE FROM cluster_presence WHERE node = \(node) AND NOT (org_code = ANY(\(list)))")
            try await db.execute("""
                INSERT INTO cluster_presence (org_code, node, since)
                SELECT o, \(node), \(unescaped: dbNow) FROM unnest(\(list)::text[]) AS o
                ON CONFLICT DO NOTHING
                """)
        }
        let rows = try await read { db in
            try await db.rows("""
                SELECT p.org_code, n.name, n.address FROM cluster_presence p JOIN cluster_nodes n ON n.name = p.node
                WHERE n.name <> \(node) AND n.lease_until > \(unescaped: dbNow)
                """)
        }
        var presence: [String: [NodeAddress]] = [:]
        for row in rows {
            presence[try row.string(0), default: []].append(NodeAddress(name: try row.string(1), address: try row.string(2)))
        }
        return presence
    }

    public func holders(of orgCode: String, excluding node: String) async throws -> [NodeAddress] {
        try await read { db in
            try await db.rows("""
                SELECT n.name, n.address FROM cluster_presence p JOIN cluster_nodes n ON n.name = p.node
                WHERE p.org_code = \(orgCode) AND n.name <> \(node) AND n.lease_until > \(unescaped: dbNow)
                ORDER BY n.name
                """).map { NodeAddress(name: try $0.string(0), address: try $0.string(1)) }
        }
    }

    public func clusterNodes() async throws -> [ClusterNodeRow] {
        try await read { db in
            try await db.rows("""
                SELECT n.name, n.address, \(unescaped: dbNow) - n.heartbeat_at, n.lease_until - \(unescaped: dbNow),
                       coalesce(string_agg(p.org_code, ',' ORDER BY p.org_code), '')
                FROM cluster_nodes n LEFT JOIN cluster_presence p ON p.node = n.name
                GROUP BY n.name, n.address, n.heartbeat_at, n.lease_until ORDER BY n.name
                """).map { row in
                let orgs = try row.string(4)
                return ClusterNodeRow(name: try row.string(0), address: try row.string(1), heartbeatAgeMs: try row.int(2),
                                      leaseLeftMs: try row.int(3), orgs: orgs.isEmpty ? [] : orgs.split(separator: ",").map(String.init))
            }
        }
    }

    public func leave(node: String) async throws {
        try await write { db in
            try await db.execute("DELETE FROM cluster_presence WHERE node = \(node)")
            try await db.execute("UPDATE cluster_nodes SET lease_until = \(unescaped: dbNow) WHERE name = \(node)")
        }
    }
}
