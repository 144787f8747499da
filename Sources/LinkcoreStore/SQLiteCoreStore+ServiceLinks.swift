import LinkcoreAudit
import LinkcoreSQLite

extension SQLiteCoreStore {
    public func serviceLink(idCode: UInt64, orgCode: String, nowMs: Int64, access: AccessRecord,
                            charge: FeeCharge?) async throws -> (link: Link, created: Bool) {
        try await write { db in
            let id = Int64(bitPattern: idCode)
            guard let keyIndex = try db.query("SELECT key_index FROM organisations WHERE code = ?", [.text(orgCode)]).first?.int(0) else {
                throw StoreError.notFound("organisation \(orgCode)")
            }
            var created = false
            if try db.query("SELECT 1 FROM links WHERE id_code = ? AND org_code = ? AND unlinked_at IS NULL",
                            [.integer(id), .text(orgCode)]).isEmpty {
                // The organisation's current key index, as a matcher-issued link would get.
                try db.query("INSERT INTO links (id_code, org_code, key_index, linked_at) VALUES (?, ?, ?, ?)",
                             [.integer(id), .text(orgCode), .integer(keyIndex), .integer(nowMs)])
                created = true
                if let charge { _ = try Self.insert(charge, in: db) }
            }
            _ = try Self.append(access, in: db)
            guard let link = try db.query("SELECT \(Self.linkColumns) FROM links WHERE id_code = ? AND org_code = ? AND unlinked_at IS NULL",
                                          [.integer(id), .text(orgCode)]).first.flatMap({ Self.link($0) }) else {
                throw StoreError.unavailable("service link vanished")
            }
            return (link, created)
        }
    }
}
