/// Recomputes the Merkle tree over the whole log (one frontier, O(log n) memory) and checks every
/// signed tree head on the way: its signature with the pinned verifier, and its root against the
/// entries. `linkctl audit verify` runs it after the chain has verified, so the tree heads are
/// tied to the same entries the checkpoints and the witness pin.
public struct TreeHeadVerifier {
    public struct Report: Sendable, Equatable {
        public var headsChecked: UInt64
        /// The tree size of the first bad head, nil when every head is good.
        public var badSize: UInt64?
        public var detail: String
        public var ok: Bool { badSize == nil }
    }

    private var frontier = MerkleTree.Frontier()
    private var heads: ArraySlice<SignedTreeHead>
    private let verifier: CheckpointVerifier
    private var report = Report(headsChecked: 0, badSize: nil, detail: "")

    public init(heads: [SignedTreeHead], verifier: CheckpointVerifier) {
        self.heads = heads.sorted { $0.size < $1.size }[...]
        self.verifier = verifier
    }

    public static func verify(heads: [SignedTreeHead], verifier: CheckpointVerifier,
                              page: (UInt64) async throws -> [ChainedRecord]) async rethrows -> Report {
        var tree = TreeHeadVerifier(heads: heads, verifier: verifier)
        var after: UInt64 = 0
        while tree.report.ok, !tree.heads.isEmpty {
            let entries = try await page(after)
            guard let last = entries.last else { break }
            tree.consume(entries)
            after = last.position
        }
        return tree.finish()
    }

    public mutating func consume(_ entries: [ChainedRecord]) {
        for entry in entries where report.ok {
            guard entry.position == frontier.size + 1 else {
                return fail(frontier.size + 1, "entry \(frontier.size + 1) is missing from the tree's leaves")
            }
            frontier.append(leafHash: AccessLeaf.leafHash(entry))
            check()
        }
    }

    public mutating func finish() -> Report {
        if report.ok, let beyond = heads.first {
            fail(beyond.size, "a signed tree head covers \(beyond.size) entries but the log has \(frontier.size)")
        }
        return report
    }

    private mutating func check() {
        while report.ok, let head = heads.first, head.size <= frontier.size {
            heads.removeFirst()
            guard head.size == frontier.size else { continue }
            switch verifier.verify(head) {
            case .valid: break
            case .badSignature: return fail(head.size, "the tree head of size \(head.size) has a bad signature")
            case let .untrustedSigner(why): return fail(head.size, "the tree head of size \(head.size) is not signed by the core: \(why)")
            }
            guard head.root == frontier.root else {
                return fail(head.size, "the signed root of size \(head.size) disagrees with the entries")
            }
            report.headsChecked += 1
        }
    }

    private mutating func fail(_ size: UInt64, _ detail: String) {
        report.badSize = size
        report.detail = detail
    }
}
