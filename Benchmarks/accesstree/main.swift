// The access log's v2 costs (issue 15 item 3) on SQLite, in one run, as ratios to baselines
// measured in the same run:
//   append:  v2 entries (HMAC resident digest + leaf hash in the chain) ÷ plain v1 appends,
//            16 concurrent writers, durable group commits: what the mediation's path pays;
//   tree:    the checkpointer folding the log into stored complete subtrees, per entry, ÷ the
//            cost of one v2 append (off the hot path, in batches of 5,000);
//   proof:   inclusion proofs to the head of the whole log (O(log² n) indexed reads) ÷ reading
//            one entry by position (one indexed read).
// Nothing asserts on time.
//
//   swift build -c release --product access-tree-bench && .build/release/access-tree-bench [entries=20000]
import Foundation
import LinkcoreAudit
import LinkcoreDomain
import LinkcoreStore

let total = CommandLine.arguments.dropFirst().compactMap { Int($0) }.first ?? 20_000
let hasher = try ResidentHasher(masterSecret: Array(repeating: 7, count: 32))

func record(_ i: Int, v2: Bool) throws -> AccessRecord {
    let id = UInt64(i % 1000)
    return AccessRecord(mediationID: "m\(i)", idCode: id, atMs: 1_800_000_000_000 + Int64(i), requester: "CITY01",
                        provider: "TAX01", bpID: "BP1", infoType: "income", outcome: .answered,
                        residentDigest: v2 ? try hasher.accessDigest(idCode: id) : nil)
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

func fill(_ store: SQLiteCoreStore, v2: Bool, count: Int, writers: Int = 16) async throws -> Double {
    let clock = ContinuousClock()
    let started = clock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for w in 0..<writers {
            group.addTask {
                var i = w
                while i < count {
                    _ = try await store.appendAccess(try record(i, v2: v2))
                    i += writers
                }
            }
        }
        try await group.waitForAll()
    }
    return Double(count) / seconds(clock.now - started)
}

let dir = NSTemporaryDirectory() + "access-tree-bench-\(UUID().uuidString)"
defer { try? FileManager.default.removeItem(atPath: dir) }
// Alternating rounds on fresh files, best of each: a busy machine's noise hits both alike.
var v1Rate = 0.0, v2Rate = 0.0
var v2 = try SQLiteCoreStore(path: dir + "/v2-0.sqlite")
for round in 0..<3 {
    v1Rate = max(v1Rate, try await fill(try SQLiteCoreStore(path: dir + "/v1-\(round).sqlite"), v2: false, count: total))
    let store = try SQLiteCoreStore(path: dir + "/v2-\(round + 1).sqlite")
    v2Rate = max(v2Rate, try await fill(store, v2: true, count: total))
    v2 = store
}
print(String(format: "append  v1 %8.0f/s   v2 %8.0f/s   v2÷v1 %.2f   (%d entries, 16 writers, durable, best of 3)", v1Rate, v2Rate, v2Rate / v1Rate, total))

let clock = ContinuousClock()
var started = clock.now
let size = try await v2.extendTree(upTo: UInt64(total))
let treePerEntry = seconds(clock.now - started) / Double(size)
print(String(format: "tree    %.1f µs/entry (batches of 5000)   ÷ one v2 append (%.1f µs): %.2f",
             treePerEntry * 1e6, 1e6 / v2Rate, treePerEntry * v2Rate))

let probes = 2_000
let positions = (0..<probes).map { _ in UInt64.random(in: 1...size) }
// Interleaved (a read, then a proof, at each position), so that load changes hit both alike.
var readTime = Duration.zero, proofTime = Duration.zero
var pathLength = 0
for p in positions {
    started = clock.now
    _ = try await v2.accessChain(afterPosition: p - 1, limit: 1)
    readTime += clock.now - started
    started = clock.now
    pathLength += try await v2.inclusionProof(position: p, size: size).count
    proofTime += clock.now - started
}
let readRate = Double(probes) / seconds(readTime)
let proofRate = Double(probes) / seconds(proofTime)
print(String(format: "proof   %8.0f/s (path %.1f hashes)   one-row read %8.0f/s   proof÷read %.2f   (tree of %d)",
             proofRate, Double(pathLength) / Double(probes), readRate, proofRate / readRate, size))
