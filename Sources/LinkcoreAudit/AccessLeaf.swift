/// The v2 entry format (issue 15 item 3, docs/protocol.md §10): an entry a resident can
/// recompute from his own row, and a Merkle leaf (RFC 9162) so that he can check its inclusion
/// in a signed tree head without seeing anyone else's entries.
///
/// leaf input = "linkcore/access-log/v2" ‖ u64(position) ‖ str(mediation_id) ‖ u64(at_ms) ‖
///              str(requester) ‖ str(provider) ‖ str(bp_id) ‖ str(info_type) ‖ u64(outcome) ‖
///              resident digest (32 bytes)
/// leaf hash  = SHA-256(0x00 ‖ leaf input)
///
/// The resident digest is HMAC-SHA-256 of the ID code under a core key: the ID code itself is the
/// one handle linking a resident across organisations and never leaves the core, while the
/// digest links nothing without the key and may be given to the resident's own portal.
///
/// A v1 entry (before the switch) enters the tree as SHA-256(0x00 ‖ its v1 chain hash): the
/// resident can check its inclusion, not recompute it (the v1 hash covers the ID code).
///
/// The linear chain goes on for v2 entries over the leaf hash:
/// chain(n) = SHA-256("linkcore/access-log/v2-chain" ‖ chain(n-1) ‖ leaf hash(n)), so the
/// checkpoints, the witness and `linkctl audit verify` keep pinning every entry (v1 and v2).
public enum AccessLeaf {
    static let domain = Array("linkcore/access-log/v2".utf8)
    static let chainDomain = Array("linkcore/access-log/v2-chain".utf8)

    /// The bytes a v2 leaf hashes (without the 0x00 prefix). Nil for a v1 record.
    public static func input(position: UInt64, record: AccessRecord) -> [UInt8]? {
        guard let digest = record.residentDigest else { return nil }
        var bytes = domain
        bytes.reserveCapacity(256)
        AccessChain.append(position, to: &bytes)
        AccessChain.append(record.mediationID, to: &bytes)
        AccessChain.append(UInt64(bitPattern: record.atMs), to: &bytes)
        AccessChain.append(record.requester, to: &bytes)
        AccessChain.append(record.provider, to: &bytes)
        AccessChain.append(record.bpID, to: &bytes)
        AccessChain.append(record.infoType, to: &bytes)
        AccessChain.append(UInt64(record.outcome.rawValue), to: &bytes)
        bytes += digest
        return bytes
    }

    /// The entry's Merkle leaf hash: v2 from its fields and digest, v1 from its chain hash.
    public static func leafHash(_ entry: ChainedRecord) -> [UInt8] {
        if let input = input(position: entry.position, record: entry.record) { return MerkleTree.leafHash(input) }
        return MerkleTree.leafHash(entry.hash)
    }

    static func chainHash(previous: [UInt8], position: UInt64, record: AccessRecord) -> [UInt8] {
        let leaf = input(position: position, record: record).map(MerkleTree.leafHash) ?? []
        return AccessChain.sha256(chainDomain + previous + leaf)
    }
}
