import LinkcoreAudit
import LinkcoreStore
import PostgresNIO

extension PostgresCoreStore: AccessTreeStore {
    public func treeSize() async throws -> UInt64 {
        try await read { db in
            UInt64(try await db.first("SELECT max(idx) + 1 FROM access_tree WHERE level = 0")?.optionalInt(0) ?? 0)
        }
    }

    public func treeNodes(_ nodes: Set<MerkleTree.Node>) async throws -> [MerkleTree.Node: [UInt8]] {
        guard !nodes.isEmpty else { return [:] }
        let wanted = Array(nodes)
        return try await read { db in
            var found: [MerkleTree.Node: [UInt8]] = [:]
            for node in wanted {
                if let row = try await db.first("""
                    SELECT hash FROM access_tree WHERE level = \(Int64(node.level)) AND idx = \(Int64(clamping: node.index))
                    """) {
                    found[node] = try row.bytes(0)
                }
            }
            return found
        }
    }

    public func addTreeNodes(_ nodes: [MerkleTree.Node: [UInt8]]) async throws {
        guard !nodes.isEmpty else { return }
        let rows = Array(nodes)
        try await write { db in
            // Several nodes may extend the tree at once: the same subtree has the same hash, so a
            // second insert of it is simply ignored.
            for (node, hash) in rows {
                try await db.execute("""
                    INSERT INTO access_tree (level, idx, hash) VALUES (\(Int64(node.level)), \(Int64(clamping: node.index)), \(hash.bytea))
                    ON CONFLICT (level, idx) DO NOTHING
                    """)
            }
        }
    }

    public func addTreeHead(_ head: SignedTreeHead) async throws {
        try await write { db in
            try await db.execute("""
                INSERT INTO audit_tree_heads (size, root, at_ms, signature, certificate)
                VALUES (\(Int64(clamping: head.size)), \(head.root.bytea), \(head.atMs), \(head.signature.bytea), \(head.certificate.bytea))
                ON CONFLICT (size) DO UPDATE SET root = excluded.root, at_ms = excluded.at_ms, signature = excluded.signature,
                    certificate = excluded.certificate
                """)
        }
    }

    static func treeHead(_ row: Columns) throws -> SignedTreeHead {
        SignedTreeHead(size: UInt64(try row.int(0)), root: try row.bytes(1), atMs: try row.int(2), signature: try row.bytes(3),
                       certificate: try row.bytes(4))
    }

    public func newestTreeHead() async throws -> SignedTreeHead? {
        try await read { db in
            try await db.first("SELECT size, root, at_ms, signature, certificate FROM audit_tree_heads ORDER BY size DESC LIMIT 1")
                .map(Self.treeHead)
        }
    }

    public func treeHeads() async throws -> [SignedTreeHead] {
        try await read { db in
            try await db.rows("SELECT size, root, at_ms, signature, certificate FROM audit_tree_heads ORDER BY size").map(Self.treeHead)
        }
    }
}
