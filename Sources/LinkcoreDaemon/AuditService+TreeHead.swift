import Foundation
import LinkcoreAudit
import LinkcoreStore
import LinkcoreWire

/// The v2 log's Merkle tree (LinkcoreAudit.MerkleTree): extended and signed by the checkpointer,
/// checked by `linkctl audit verify`.
///
/// Why the linear chain stays: the checkpoints, the witness file and the verifier's diagnosis
/// (altered / deleted / reordered) are built on it and keep working across the switch to v2
/// unchanged; v2 entries chain their leaf hash, so the chain pins the leaves, and every tree
/// head is checked against the leaves of that chain. The tree adds what the chain cannot give:
/// a short proof, for one entry, that it is in the signed log, without anyone else's entries.
extension AuditService {
    /// Brings the stored tree up to `size` (the position just pinned by a checkpoint) and signs a
    /// tree head there unless one exists. Off the mediation's path: the subtrees are written in
    /// batches here, not in the entry's transaction.
    func signTreeHead(size: UInt64, _ signing: Signing) async throws {
        guard size > 0, let tree = store as? any AccessTreeStore & CoreStore else { return }
        if let newest = try await tree.newestTreeHead(), newest.size >= size { return }
        let reached = try await tree.extendTree(upTo: size, pageSize: Self.pageSize)
        guard reached == size else {
            throw Refusal(description: "the access log's tree reaches \(reached) entries, not the signed position \(size)")
        }
        let root = try await tree.treeRoot(size: size)
        let certificate = try Array(Data(contentsOf: URL(fileURLWithPath: signing.certificatePath)))
        let signer = CheckpointSigner(privateKeyPath: signing.keyPath, certificatePEM: certificate)
        let head = try signer.signTreeHead(size: size, root: root, atMs: Int64(Date().timeIntervalSince1970 * 1000))
        if case let .untrustedSigner(why) = signing.verifier.verify(head) {
            throw Refusal(description: "the core's own certificate does not pass the tree head verifier: \(why)")
        }
        try await tree.addTreeHead(head)
        logger.notice("access log tree head signed", metadata: [
            "audit_tree_size": "\(size)", "audit_tree_root": "\(AuditWitness.hex(root))", "audit_at_ms": "\(head.atMs)",
        ])
    }

    /// Recomputes the tree over the whole log and checks every signed tree head (signature and
    /// root); fills the counts, or the problem, into the verify response.
    func verifyTree(_ signing: Signing, into response: inout LCAuditVerifyResponse) async throws {
        guard let tree = store as? any AccessTreeStore else { return }
        let heads = try await tree.treeHeads()
        var firstV2: UInt64 = 0
        let report = try await TreeHeadVerifier.verify(heads: heads, verifier: signing.verifier, page: { after in
            let page = try await store.accessChain(afterPosition: after, limit: Self.pageSize)
            if firstV2 == 0, let v2 = page.first(where: { $0.record.residentDigest != nil }) { firstV2 = v2.position }
            return page
        })
        response.treeHeadsChecked = report.headsChecked
        response.v2FromPosition = firstV2
        if !report.ok {
            logger.critical("access log tree verification FAILED", metadata: ["detail": "\(report.detail)"])
            response.ok = false
            response.firstBadPosition = report.badSize ?? 0
            response.problem = "altered: \(report.detail)"
        }
    }
}
