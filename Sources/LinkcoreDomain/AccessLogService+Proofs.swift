import LinkcoreAudit
import LinkcoreStore

extension AccessLogService {
    /// Adds to the page the newest signed tree head and, per entry, its leaf hash, resident
    /// digest and audit path to that head (RFC 9162), so the resident can check with openssl
    /// alone that each of his entries is in the log the core signed (docs/portal.md).
    ///
    /// Cost: one head read, and per entry O(log² n) primary-key reads of stored complete
    /// subtrees; never a scan of the log. An entry newer than the head gets no path yet (the
    /// next head, within one checkpoint interval, covers it).
    func addProofs(to page: inout AccessLogPage, rows: [LoggedAccess]) async throws {
        guard let tree = store as? any AccessTreeStore else { return }
        let head = try await tree.newestTreeHead()
        page.treeHead = head
        for (index, row) in rows.enumerated() where index < page.entries.count {
            page.entries[index].residentDigest = row.chained.record.residentDigest ?? []
            page.entries[index].leafHash = AccessLeaf.leafHash(row.chained)
            if let head, row.chained.position <= head.size {
                page.entries[index].inclusionProof = try await tree.inclusionProof(position: row.chained.position, size: head.size)
            }
        }
    }
}
