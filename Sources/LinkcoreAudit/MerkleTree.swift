/// RFC 9162 §2.1 Merkle tree hashing over the access log's leaves, computed from stored
/// complete subtrees so that a root or an audit path costs O(log² n) lookups, never O(n).
///
/// A complete subtree is named by (level, index): it covers leaves [index·2^level, (index+1)·2^level).
/// Every subtree RFC 9162 uses for a tree of size n is either such a complete subtree or the
/// right edge, which is built from complete subtrees on the fly.
public enum MerkleTree {
    public struct Node: Hashable, Sendable {
        public var level: UInt8
        public var index: UInt64
        public init(level: UInt8, index: UInt64) { self.level = level; self.index = index }
    }

    public static func leafHash(_ input: [UInt8]) -> [UInt8] { AccessChain.sha256([0] + input) }

    public static func nodeHash(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] { AccessChain.sha256([1] + left + right) }

    /// The root of an empty tree: SHA-256 of nothing.
    public static let emptyRoot = AccessChain.sha256([])

    /// The largest power of two smaller than n (n ≥ 2).
    static func split(_ n: UInt64) -> UInt64 {
        var k: UInt64 = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// MTH(D[start ..< start+count]), asking `node` for complete subtrees.
    static func hash(start: UInt64, count: UInt64, _ node: (Node) -> [UInt8]) -> [UInt8] {
        if count & (count - 1) == 0, start % count == 0 {
            return node(Node(level: UInt8(count.trailingZeroBitCount), index: start / count))
        }
        let k = split(count)
        return nodeHash(hash(start: start, count: k, node), hash(start: start + k, count: count - k, node))
    }

    /// The root of the tree of the first `size` leaves.
    public static func root(size: UInt64, _ node: (Node) -> [UInt8]) -> [UInt8] {
        size == 0 ? emptyRoot : hash(start: 0, count: size, node)
    }

    /// PATH(m, D[0:size]) of RFC 9162 §2.1.3.1: the audit path of leaf `index` (0-based), leaf first.
    public static func path(index: UInt64, size: UInt64, _ node: (Node) -> [UInt8]) -> [[UInt8]] {
        precondition(index < size)
        var path: [[UInt8]] = []
        func walk(_ m: UInt64, _ start: UInt64, _ n: UInt64) {
            guard n > 1 else { return }
            let k = split(n)
            if m < k {
                walk(m, start, k)
                path.append(hash(start: start + k, count: n - k, node))
            } else {
                walk(m - k, start + k, n - k)
                path.append(hash(start: start, count: k, node))
            }
        }
        walk(index, 0, size)
        return path
    }

    /// The complete subtrees a root or path needs: run the computation once with a recorder.
    public static func nodesNeeded(_ compute: (@escaping (Node) -> [UInt8]) -> Void) -> Set<Node> {
        var needed = Set<Node>()
        compute { needed.insert($0); return [UInt8](repeating: 0, count: 32) }
        return needed
    }

    /// RFC 9162 §2.1.3.2: recomputes the root from a leaf hash and its audit path.
    public static func rootFromPath(leafHash: [UInt8], index: UInt64, size: UInt64, path: [[UInt8]]) -> [UInt8]? {
        guard index < size else { return nil }
        var fn = index, sn = size - 1
        var r = leafHash
        for p in path {
            guard sn != 0 else { return nil }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0, fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1; sn >>= 1
        }
        return sn == 0 ? r : nil
    }

    /// The left frontier of a growing tree (one complete subtree per set bit of the size): appends
    /// a leaf in O(1) amortised and yields the complete subtrees it closes, which the store keeps.
    public struct Frontier: Sendable {
        public private(set) var size: UInt64
        /// Highest level first, as the set bits of `size` from the top.
        public private(set) var stack: [[UInt8]]

        public init() { size = 0; stack = [] }

        /// Rebuilds the frontier at `size` from its stored complete subtrees.
        public init(size: UInt64, _ node: (Node) -> [UInt8]) {
            self.size = size
            stack = Self.frontierNodes(size: size).map(node)
        }

        /// The complete subtrees that make up the frontier at `size`, highest first.
        public static func frontierNodes(size: UInt64) -> [Node] {
            var nodes: [Node] = []
            var start: UInt64 = 0
            for level in stride(from: 63, through: 0, by: -1) where size & (1 << UInt64(level)) != 0 {
                nodes.append(Node(level: UInt8(level), index: start >> UInt64(level)))
                start += 1 << UInt64(level)
            }
            return nodes
        }

        /// Adds a leaf; returns every complete subtree it completes (the leaf itself first).
        @discardableResult
        public mutating func append(leafHash: [UInt8]) -> [(Node, [UInt8])] {
            var closed: [(Node, [UInt8])] = [(Node(level: 0, index: size), leafHash)]
            var hash = leafHash
            var level: UInt8 = 0
            var index = size
            while index & 1 == 1, let left = stack.popLast() {
                hash = MerkleTree.nodeHash(left, hash)
                level += 1
                index >>= 1
                closed.append((Node(level: level, index: index), hash))
            }
            stack.append(hash)
            size += 1
            return closed
        }

        /// The root of the tree so far: the frontier folded from the right.
        public var root: [UInt8] {
            guard var r = stack.last else { return MerkleTree.emptyRoot }
            for left in stack.dropLast().reversed() { r = MerkleTree.nodeHash(left, r) }
            return r
        }
    }
}
