import LinkcoreAudit

/// The access log's Merkle tree (v2 format, LinkcoreAudit.AccessLeaf and MerkleTree): its
/// complete subtrees and the signed tree heads. A protocol of its own (as `ServiceLinkStore`),
/// so that an engine without it still builds.
///
/// Why complete subtrees: a root or an audit path of a tree of size n needs O(log n) of them (the
/// right edge is folded on the fly), so a proof costs a few indexed reads however long the log.
/// They are written by the checkpointer, in batches, never by the mediation's own transaction:
/// the hot path only stores the entry (with its digest), and the tree follows before each head
/// is signed (heads are signed only over a tree that has been extended that far).
public protocol AccessTreeStore: Sendable {
    /// How many leaves the stored tree holds.
    func treeSize() async throws -> UInt64
    /// The stored complete subtrees among `nodes` (absent ones left out).
    func treeNodes(_ nodes: Set<MerkleTree.Node>) async throws -> [MerkleTree.Node: [UInt8]]
    /// Stores complete subtrees, in one durable write (a node already stored is kept).
    func addTreeNodes(_ nodes: [MerkleTree.Node: [UInt8]]) async throws
    func addTreeHead(_ head: SignedTreeHead) async throws
    func newestTreeHead() async throws -> SignedTreeHead?
    /// Every signed tree head, smallest first.
    func treeHeads() async throws -> [SignedTreeHead]
}

public enum AccessTreeError: Error, CustomStringConvertible, Sendable {
    case missingNode(MerkleTree.Node)
    case notInTree(position: UInt64, size: UInt64)
    public var description: String {
        switch self {
        case let .missingNode(node): return "the access log's tree lacks the subtree (\(node.level), \(node.index)): run the checkpointer"
        case let .notInTree(position, size): return "position \(position) is not in the tree of size \(size)"
        }
    }
}

extension AccessTreeStore {
    /// Runs a tree computation over stored subtrees: one read for the nodes it needs.
    func compute<T>(_ body: ((MerkleTree.Node) -> [UInt8]) -> T) async throws -> T {
        let needed = MerkleTree.nodesNeeded { node in _ = body(node) }
        let found = try await treeNodes(needed)
        if let missing = needed.first(where: { found[$0] == nil }) { throw AccessTreeError.missingNode(missing) }
        return body { found[$0] ?? [] }
    }

    public func treeRoot(size: UInt64) async throws -> [UInt8] {
        try await compute { MerkleTree.root(size: size, $0) }
    }

    /// The audit path from the entry at 1-based `position` to the root of the tree of `size` leaves.
    public func inclusionProof(position: UInt64, size: UInt64) async throws -> [[UInt8]] {
        guard position >= 1, position <= size else { throw AccessTreeError.notInTree(position: position, size: size) }
        return try await compute { MerkleTree.path(index: position - 1, size: size, $0) }
    }
}

extension AccessTreeStore where Self: CoreStore {
    /// Folds the entries after the stored tree into it, a page (one durable write) at a time,
    /// until it holds `size` leaves (or the whole log). Returns the tree's size.
    @discardableResult
    public func extendTree(upTo size: UInt64, pageSize: Int = 5_000) async throws -> UInt64 {
        let start = try await treeSize()
        guard start < size else { return start }
        var frontier = try await compute { MerkleTree.Frontier(size: start, $0) }
        while frontier.size < size {
            let limit = Int(min(UInt64(pageSize), size - frontier.size))
            let page = try await accessChain(afterPosition: frontier.size, limit: limit)
            guard !page.isEmpty else { break }
            var closed: [MerkleTree.Node: [UInt8]] = [:]
            for entry in page {
                guard entry.position == frontier.size + 1 else { throw AccessTreeError.notInTree(position: frontier.size + 1, size: size) }
                for (node, hash) in frontier.append(leafHash: AccessLeaf.leafHash(entry)) { closed[node] = hash }
            }
            try await addTreeNodes(closed)
        }
        return frontier.size
    }
}
