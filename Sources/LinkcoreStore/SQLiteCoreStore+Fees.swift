import LinkcoreSQLite

extension SQLiteCoreStore {
    @discardableResult
    static func insert(_ charge: FeeCharge, in db: SQLiteDatabase) throws -> Bool {
        try db.query("""
            INSERT OR IGNORE INTO fee_ledger (payer, operation, reference, amount_yen, tariff_id, at_ms)
            VALUES (?, ?, ?, ?, ?, ?)
            """, [.text(charge.payer), .text(charge.operation.rawValue), .text(charge.reference), .integer(charge.amountYen),
                  .text(charge.tariffID), .integer(charge.atMs)])
        return db.changes == 1
    }

    @discardableResult
    public func charge(_ charge: FeeCharge) async throws -> Bool {
        try await write { db in try Self.insert(charge, in: db) }
    }

    public func feeLines(payer: String, fromMs: Int64, toMs: Int64) async throws -> (lines: [FeeLineTotal], entries: UInt64) {
        try await read { db in
            let rows = try db.query("""
                SELECT operation, tariff_id, amount_yen, count(*), sum(amount_yen) FROM fee_ledger
                WHERE payer = ? AND at_ms >= ? AND at_ms < ?
                GROUP BY operation, tariff_id, amount_yen ORDER BY operation, tariff_id, amount_yen
                """, [.text(payer), .integer(fromMs), .integer(toMs)])
            let lines = rows.compactMap { row -> FeeLineTotal? in
                guard let operation = row.string(0).flatMap(FeeCharge.Operation.init(rawValue:)), let tariff = row.string(1),
                      let unit = row.int(2), let count = row.int(3), let amount = row.int(4) else { return nil }
                return FeeLineTotal(operation: operation, tariffID: tariff, unitPriceYen: unit, count: UInt64(count), amountYen: amount)
            }
            return (lines, lines.reduce(0) { $0 + $1.count })
        }
    }
}
