import LinkcoreWire

/// The v2 verification data on the log page and in the CSV (docs/portal.md "Verifying the log"):
/// per entry the resident digest, the leaf hash and the audit path; once, the signed tree head.
extension PortalSite {
    /// The audit path as hex hashes separated by spaces, leaf side first (what the docs' loop reads).
    static func proofText(_ e: LCAccessLogEntry) -> String {
        e.inclusionProof.map { LogFormat.hex($0) }.joined(separator: " ")
    }

    static func treeHeadValues(_ h: LCAccessLogTreeHead) -> [String: Any] {
        [
            "size": "\(h.treeSize)", "root": LogFormat.hex(h.root), "time": LogFormat.japanTime(h.atMs), "at_ms": "\(h.atMs)",
            "signature": LogFormat.hex(h.signature), "certificate": String(decoding: h.certificatePem, as: UTF8.self),
        ]
    }

    /// Added after the v1 columns, so a reader of the old columns keeps working. The head is
    /// repeated on every row so that one row is all a check needs (the certificate is on the page).
    static let treeColumns = ["resident_digest", "leaf_hash", "inclusion_proof", "tree_size", "tree_root", "tree_at_ms", "tree_signature"]

    static func treeFields(_ e: LCAccessLogEntry, _ h: LCAccessLogTreeHead?) -> [String] {
        let proven = h != nil && !e.leafHash.isEmpty && (e.position <= (h?.treeSize ?? 0))
        return [
            LogFormat.hex(e.residentDigest), LogFormat.hex(e.leafHash), proofText(e),
            proven ? "\(h?.treeSize ?? 0)" : "", proven ? LogFormat.hex(h?.root ?? .init()) : "",
            proven ? "\(h?.atMs ?? 0)" : "", proven ? LogFormat.hex(h?.signature ?? .init()) : "",
        ]
    }
}
