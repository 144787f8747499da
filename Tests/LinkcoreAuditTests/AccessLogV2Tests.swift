import Foundation
import LinkcoreAudit
import LinkcorePKI
import LinkcoreSQLite
import LinkcoreStore
import LinkcoreTestSupport
import Testing

/// The v2 format (issue 15 item 3): a log that switches from v1 to v2 at position N, its Merkle
/// tree kept as complete subtrees, signed tree heads and inclusion proofs, on both engines, with
/// real signatures under a dev PKI and tampering behind the store's back.
@Suite struct AccessLogV2Tests {
    let base = AccessLogTamperTests()
    static let v1Count = 13, v2Count = 30

    func digest(_ resident: UInt64) -> [UInt8] { AccessChain.sha256(Array("test-key".utf8) + withUnsafeBytes(of: resident.bigEndian) { Array($0) }) }

    /// 13 v1 entries with a checkpoint at 10, then 30 v2 entries; checkpoints every 10 and a
    /// tree head at 40, as the daemon's checkpointer makes them.
    func makeLog(_ engine: TestStoreEngine) async throws -> (TestStore, any AccessTreeStore & CoreStore, SignedTreeHead) {
        let t = try await base.makeLog(engine, count: Self.v1Count, checkpointEvery: 10)
        let store = try #require(t.store as? any AccessTreeStore & CoreStore)
        let signer = CheckpointSigner(privateKeyPath: base.pki.serverKeyPath,
                                      certificatePEM: Array(try Data(contentsOf: URL(fileURLWithPath: base.pki.serverCertificatePath))))
        for i in Self.v1Count + 1...Self.v1Count + Self.v2Count {
            var record = base.record(i, resident: UInt64(i % 3))
            record.residentDigest = digest(UInt64(i % 3))
            let chained = try await store.appendAccess(record)
            if i % 10 == 0 { try await store.addCheckpoint(try signer.sign(position: chained.position, hash: chained.hash, atMs: AccessLogTamperTests.nowMs)) }
        }
        #expect(try await store.extendTree(upTo: 40, pageSize: 7) == 40)
        let head = try signer.signTreeHead(size: 40, root: try await store.treeRoot(size: 40), atMs: AccessLogTamperTests.nowMs)
        try await store.addTreeHead(head)
        return (t, store, head)
    }

    func verifyTree(_ store: any AccessTreeStore & CoreStore) async throws -> TreeHeadVerifier.Report {
        try await TreeHeadVerifier.verify(heads: try await store.treeHeads(), verifier: try base.verifier(),
                                          page: { try await store.accessChain(afterPosition: $0, limit: 9) })
    }

    @Test(arguments: TestStoreEngine.allCases) func aLogThatSwitchesToV2VerifiesAndEveryEntryProvesItsInclusion(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: base.directory) }
        let (_, store, head) = try await makeLog(engine)
        let chain = try await base.verify(store)
        #expect(chain.ok, "\(chain.detail)")
        #expect(chain.entriesChecked == 43 && chain.checkpointsChecked == 4)  // 10; then 20, 30, 40
        let tree = try await verifyTree(store)
        #expect(tree.ok && tree.headsChecked == 1, "\(tree.detail)")
        #expect(try await store.newestTreeHead() == head)
        #expect(try base.verifier().verify(head) == .valid)
        // Every entry, v1 and v2, walks from its leaf to the signed root.
        let entries = try await store.accessChain(afterPosition: 0, limit: 100)
        for entry in entries where entry.position <= head.size {
            let proof = try await store.inclusionProof(position: entry.position, size: head.size)
            #expect(MerkleTree.rootFromPath(leafHash: AccessLeaf.leafHash(entry), index: entry.position - 1, size: head.size, path: proof) == head.root)
            #expect((entry.record.residentDigest != nil) == (entry.position > UInt64(Self.v1Count)))
        }
        // The tree extends later without recomputing what it holds; entries past the head get no proof yet.
        #expect(try await store.extendTree(upTo: 43) == 43)
        #expect(try await store.treeRoot(size: 43) == Self.referenceRoot(entries.map(AccessLeaf.leafHash)))
        #expect(try await store.treeRoot(size: 40) == head.root)
    }

    @Test(arguments: TestStoreEngine.allCases) func aTamperedV2EntryOrADowngradeToV1IsCaught(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: base.directory) }
        let (t, store, _) = try await makeLog(engine)
        // A changed field on entry 20: the chain and the signed root both disagree.
        try await base.tamper(t, "UPDATE access_log SET bp_id = 'BP-X' WHERE position = 20")
        #expect(try await base.verify(store).firstBadPosition == 20)
        #expect(try await verifyTree(store).badSize == 40)
        try await base.tamper(t, "UPDATE access_log SET bp_id = 'BP-6' WHERE position = 20")
        #expect(try await base.verify(store).ok)
        // A v2 entry passed off as v1 (its digest dropped) is refused.
        try await base.tamper(t, "UPDATE access_log SET digest = NULL WHERE position = 41")
        let report = try await base.verify(store)
        #expect(report.firstBadPosition == 41 && report.problem == .altered)
    }

    @Test(arguments: TestStoreEngine.allCases) func aWrongProofOrAHeadFromAnotherKeyFails(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: base.directory) }
        let (t, store, head) = try await makeLog(engine)
        let entry = try #require(try await store.accessChain(afterPosition: 24, limit: 1).first)
        var proof = try await store.inclusionProof(position: 25, size: head.size)
        #expect(MerkleTree.rootFromPath(leafHash: AccessLeaf.leafHash(entry), index: 24, size: head.size, path: proof) == head.root)
        // Another position, a shortened path, or a changed hash: not the root.
        #expect(MerkleTree.rootFromPath(leafHash: AccessLeaf.leafHash(entry), index: 25, size: head.size, path: proof) != head.root)
        #expect(MerkleTree.rootFromPath(leafHash: AccessLeaf.leafHash(entry), index: 24, size: head.size, path: proof.dropLast()) != head.root)
        proof[0][0] ^= 1
        #expect(MerkleTree.rootFromPath(leafHash: AccessLeaf.leafHash(entry), index: 24, size: head.size, path: proof) != head.root)

        // A head signed by a key of another CA does not count; nor a changed size.
        let other = DevPKIDirectory(path: base.directory + "/other")
        try other.initialise()
        let foreign = try CheckpointSigner(privateKeyPath: other.serverKeyPath,
                                           certificatePEM: Array(Data(contentsOf: URL(fileURLWithPath: other.serverCertificatePath))))
            .signTreeHead(size: head.size, root: head.root, atMs: head.atMs)
        guard case .untrustedSigner = try base.verifier().verify(foreign) else { Issue.record("a foreign head verified"); return }
        var resized = head
        resized.size = 41
        #expect(try base.verifier().verify(resized) == .badSignature)
        try await base.tamper(t, "DELETE FROM audit_tree_heads")
        try await store.addTreeHead(foreign)
        #expect(try await verifyTree(store).badSize == 40)
    }

    /// RFC 9162's recursive definition, over every leaf: what the stored subtrees must agree with.
    static func referenceRoot(_ leaves: [[UInt8]]) -> [UInt8] {
        if leaves.isEmpty { return MerkleTree.emptyRoot }
        if leaves.count == 1 { return leaves[0] }
        var k = 1
        while k << 1 < leaves.count { k <<= 1 }
        return MerkleTree.nodeHash(referenceRoot(Array(leaves[..<k])), referenceRoot(Array(leaves[k...])))
    }

    @Test func rootsAndPathsAgreeWithRFC9162ForEverySizeUpTo70() {
        let leaves = (0..<70).map { MerkleTree.leafHash([UInt8($0)]) }
        var frontier = MerkleTree.Frontier()
        var stored: [MerkleTree.Node: [UInt8]] = [:]
        for (n, leaf) in leaves.enumerated() {
            for (node, hash) in frontier.append(leafHash: leaf) { stored[node] = hash }
            let size = UInt64(n + 1)
            let root = Self.referenceRoot(Array(leaves[...n]))
            #expect(frontier.root == root)
            #expect(MerkleTree.root(size: size) { stored[$0] ?? [] } == root)
            #expect(MerkleTree.Frontier(size: size) { stored[$0] ?? [] }.root == root)
            for m in 0..<size {
                let path = MerkleTree.path(index: m, size: size) { stored[$0] ?? [] }
                #expect(MerkleTree.rootFromPath(leafHash: leaves[Int(m)], index: m, size: size, path: path) == root)
            }
        }
    }
}
