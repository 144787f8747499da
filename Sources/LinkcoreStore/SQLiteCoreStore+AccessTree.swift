import LinkcoreAudit
import LinkcoreSQLite

extension SQLiteCoreStore: AccessTreeStore {
    public func treeSize() async throws -> UInt64 {
        try await read { db in
            UInt64(try db.query("SELECT max(idx) + 1 FROM access_tree WHERE level = 0").first?.int(0) ?? 0)
        }
    }

    public func treeNodes(_ nodes: Set<MerkleTree.Node>) async throws -> [MerkleTree.Node: [UInt8]] {
        guard !nodes.isEmpty else { return [:] }
        let wanted = Array(nodes)
        return try await read { db in
            var found: [MerkleTree.Node: [UInt8]] = [:]
            // O(log² n) nodes at most: one statement, one primary-key probe each.
            for node in wanted {
                if let hash = try db.query("SELECT hash FROM access_tree WHERE level = ? AND idx = ?",
                                           [.integer(Int64(node.level)), .integer(Int64(clamping: node.index))]).first?.blob(0) {
                    found[node] = hash
                }
            }
            return found
        }
    }

    public func addTreeNodes(_ nodes: [MerkleTree.Node: [UInt8]]) async throws {
        guard !nodes.isEmpty else { return }
        try await write { db in
            for (node, hash) in nodes {
                try db.query("INSERT OR IGNORE INTO access_tree (level, idx, hash) VALUES (?, ?, ?)",
                             [.integer(Int64(node.level)), .integer(Int64(clamping: node.index)), .blob(hash)])
            }
        }
    }

    public func addTreeHead(_ head: SignedTreeHead) async throws {
        try await write { db in
            try db.query("INSERT OR REPLACE INTO audit_tree_heads (size, root, at_ms, signature, certificate) VALUES (?, ?, ?, ?, ?)",
                         [.integer(Int64(clamping: head.size)), .blob(head.root), .integer(head.atMs), .blob(head.signature),
                          .blob(head.certificate)])
        }
    }

    static let treeHeadQuery = "SELECT size, root, at_ms, signature, certificate FROM audit_tree_heads"

    static func treeHead(_ row: Row) -> SignedTreeHead? {
        guard let size = row.int(0), let root = row.blob(1), let at = row.int(2), let signature = row.blob(3),
              let certificate = row.blob(4) else { return nil }
        return SignedTreeHead(size: UInt64(size), root: root, atMs: at, signature: signature, certificate: certificate)
    }

    public func newestTreeHead() async throws -> SignedTreeHead? {
        try await read { db in try db.query(Self.treeHeadQuery + " ORDER BY size DESC LIMIT 1").first.flatMap(Self.treeHead) }
    }

    public func treeHeads() async throws -> [SignedTreeHead] {
        try await read { db in try db.query(Self.treeHeadQuery + " ORDER BY size").compactMap(Self.treeHead) }
    }
}
