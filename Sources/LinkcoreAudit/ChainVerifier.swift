/// Recomputes the access log's chain page by page and checks every signed checkpoint on the
/// way. Stops at the first problem and says where it is and what kind it looks like.
public struct ChainVerifier {
    public enum Problem: String, Sendable {
        case altered, deleted, reordered
        case badCheckpointSignature = "bad checkpoint signature"
        case untrustedCheckpointSigner = "checkpoint signed by an untrusted certificate"
    }

    public struct Report: Sendable, Equatable {
        public var entriesChecked: UInt64
        public var checkpointsChecked: UInt64
        /// 1-based position of the first bad entry (or of the checkpoint), nil when the log is intact.
        public var firstBadPosition: UInt64?
        public var problem: Problem?
        public var detail: String
        public var ok: Bool { problem == nil }
    }

    private var previous = AccessChain.genesis
    private var expected: UInt64 = 1
    private var lastGoodCheckpoint: UInt64 = 0
    private var checkpoints: ArraySlice<AuditCheckpoint>
    private let verifier: CheckpointVerifier
    /// The last signed head as the core recorded it outside the database: the log must reach it
    /// and agree with it, whatever the checkpoints in the file say.
    private var witness: AuditWitness?
    /// The log switches from v1 to v2 once (AccessLeaf); a v1 entry after a v2 one is forged.
    private var sawV2 = false
    private var report = Report(entriesChecked: 0, checkpointsChecked: 0, firstBadPosition: nil, problem: nil, detail: "")

    public init(checkpoints: [AuditCheckpoint], verifier: CheckpointVerifier, witness: AuditWitness? = nil) {
        self.checkpoints = checkpoints.sorted { $0.position < $1.position }[...]
        self.verifier = verifier
        self.witness = witness.flatMap { $0.position > 0 ? $0 : nil }
    }

    public var isDone: Bool { report.problem != nil }

    /// Verifies a whole log read a page at a time: `page(after)` returns the entries after that
    /// position in order, empty at the end.
    public static func verify(checkpoints: [AuditCheckpoint], verifier: CheckpointVerifier, witness: AuditWitness? = nil,
                              page: (UInt64) async throws -> [ChainedRecord]) async rethrows -> Report {
        var chain = ChainVerifier(checkpoints: checkpoints, verifier: verifier, witness: witness)
        var after: UInt64 = 0
        while !chain.isDone {
            let entries = try await page(after)
            guard let last = entries.last else { break }
            chain.consume(entries)
            after = last.position
        }
        return chain.finish()
    }

    /// How far ahead a mismatching entry is looked for elsewhere to tell a move from an edit.
    static let lookahead = 256
    private var pending: [ChainedRecord] = []

    /// Feeds the next entries in position order. Entries are held back until `lookahead` later
    /// ones have arrived (or `finish`), so a move across page boundaries is still recognised.
    public mutating func consume(_ page: [ChainedRecord]) {
        pending += page
        check(keeping: Self.lookahead)
    }

    /// Call after the last page: checkpoints beyond the end mean the log was cut short.
    public mutating func finish() -> Report {
        check(keeping: 0)
        if !isDone, let beyond = checkpoints.first {
            fail(.deleted, at: expected, "a checkpoint covers position \(beyond.position) but the log ends at \(expected - 1)")
        }
        if !isDone, let witness {
            fail(.deleted, at: expected, "the witness of the last signed head is at position \(witness.position) but the log ends at \(expected - 1)")
        }
        return report
    }

    private mutating func check(keeping window: Int) {
        var index = 0
        while index < pending.count - window, !isDone {
            let entry = pending[index]
            if entry.position > expected {
                return fail(.deleted, at: expected, "entries \(expected)…\(entry.position - 1) are missing")
            }
            let hash = AccessChain.hash(previous: previous, position: entry.position, record: entry.record)
            guard hash == entry.hash else {
                // The entry that belongs here, sealed at this position, sits further on: a move.
                let moved = pending[(index + 1)...].first { [previous] in
                    AccessChain.hash(previous: previous, position: entry.position, record: $0.record) == $0.hash
                }
                if let moved {
                    return fail(.reordered, at: entry.position, "the entry sealed at position \(entry.position) is stored at \(moved.position)")
                }
                return fail(.altered, at: entry.position, "entry \(entry.position) does not match its hash")
            }
            if entry.record.residentDigest != nil {
                sawV2 = true
            } else if sawV2 {
                return fail(.altered, at: entry.position, "entry \(entry.position) is in the v1 format after a v2 entry")
            }
            previous = hash
            expected = entry.position + 1
            report.entriesChecked += 1
            checkCheckpoints(upTo: entry.position)
            index += 1
        }
        pending.removeFirst(min(index, pending.count))
    }

    private mutating func checkCheckpoints(upTo position: UInt64) {
        while let checkpoint = checkpoints.first, checkpoint.position <= position, !isDone {
            checkpoints.removeFirst()
            guard checkpoint.position == position else { continue }  // positions only grow; a skipped one cannot occur
            switch verifier.verify(checkpoint) {
            case .valid: break
            case .badSignature: return fail(.badCheckpointSignature, at: position, "checkpoint at \(position) has a bad signature")
            case let .untrustedSigner(why):
                return fail(.untrustedCheckpointSigner, at: position, "checkpoint at \(position) is not signed by the core: \(why)")
            }
            guard checkpoint.hash == previous else {
                // Every stored hash agreed, yet the signed one does not: the chain was rebuilt
                // after the last good checkpoint.
                return fail(.altered, at: lastGoodCheckpoint + 1,
                            "the chain was rewritten between positions \(lastGoodCheckpoint + 1) and \(position) (signed checkpoint disagrees)")
            }
            lastGoodCheckpoint = position
            report.checkpointsChecked += 1
        }
        if !isDone, let witness, witness.position == position {
            self.witness = nil
            guard witness.hash == previous else {
                return fail(.altered, at: lastGoodCheckpoint + 1,
                            "the chain was rewritten between positions \(lastGoodCheckpoint + 1) and \(position) (the witness of the last signed head disagrees)")
            }
            lastGoodCheckpoint = position
        }
    }

    private mutating func fail(_ problem: Problem, at position: UInt64, _ detail: String) {
        report.problem = problem
        report.firstBadPosition = position
        report.detail = detail
    }
}
