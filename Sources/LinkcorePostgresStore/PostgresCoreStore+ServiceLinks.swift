import LinkcoreAudit
import LinkcoreStore
import PostgresNIO

extension PostgresCoreStore {
    /// Sign-in links, as on SQLite: the live link found or created, the access-log entry appended
    /// (chained onto the locked head) and the fee, in one transaction. ON CONFLICT keeps the
    /// transaction usable when another node creates the same live link at the same moment; the
    /// re-read then finds the other's row (and this one is not charged).
    public func serviceLink(idCode: UInt64, orgCode: String, nowMs: Int64, access: AccessRecord,
                            charge: FeeCharge?) async throws -> (link: Link, created: Bool) {
        try await write { db in
            let id = Int64(bitPattern: idCode)
            guard let keyIndex = try await db.first("SELECT key_index FROM organisations WHERE code = \(orgCode)")?.int(0) else {
                throw StoreError.notFound("organisation \(orgCode)")
            }
            var created = false
            if try await db.first("""
                SELECT 1 FROM links WHERE id_code = \(id) AND org_code = \(orgCode) AND unlinked_at IS NULL
                """) == nil {
                // The organisation's current key index, as a matcher-issued link would get.
                created = try await db.first("""
                    INSERT INTO links (id_code, org_code, key_index, linked_at) VALUES (\(id), \(orgCode), \(keyIndex), \(nowMs))
                    ON CONFLICT (id_code, org_code) WHERE unlinked_at IS NULL DO NOTHING RETURNING link_id
                    """) != nil
                if created, let charge { try await Self.insert(charge, in: db) }
            }
            _ = try await Self.append(access, in: db)
            guard let link = try await db.first("""
                SELECT \(unescaped: Self.linkColumns) FROM links WHERE id_code = \(id) AND org_code = \(orgCode) AND unlinked_at IS NULL
                """).map({ try Self.link($0) }) else {
                throw StoreError.unavailable("service link vanished")
            }
            return (link, created)
        }
    }
}
