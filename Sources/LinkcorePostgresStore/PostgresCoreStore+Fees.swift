import LinkcoreStore
import PostgresNIO

extension PostgresCoreStore {
    /// One ledger row; a second charge for the same (operation, reference), from this node or
    /// another, inserts nothing (the unique constraint decides, inside the database).
    @discardableResult
    static func insert(_ charge: FeeCharge, in db: PostgresSession) async throws -> Bool {
        try await db.first("""
            INSERT INTO fee_ledger (payer, operation, reference, amount_yen, tariff_id, at_ms)
            VALUES (\(charge.payer), \(charge.operation.rawValue), \(charge.reference), \(charge.amountYen), \(charge.tariffID), \(charge.atMs))
            ON CONFLICT (operation, reference) DO NOTHING RETURNING id
            """) != nil
    }

    @discardableResult
    public func charge(_ charge: FeeCharge) async throws -> Bool {
        try await write { db in try await Self.insert(charge, in: db) }
    }

    public func feeLines(payer: String, fromMs: Int64, toMs: Int64) async throws -> (lines: [FeeLineTotal], entries: UInt64) {
        try await read { db in
            let rows = try await db.rows("""
                SELECT operation, tariff_id, amount_yen, count(*), sum(amount_yen)::bigint FROM fee_ledger
                WHERE payer = \(payer) AND at_ms >= \(fromMs) AND at_ms < \(toMs)
                GROUP BY operation, tariff_id, amount_yen ORDER BY operation, tariff_id, amount_yen
                """)
            let lines = try rows.compactMap { row -> FeeLineTotal? in
                guard let operation = FeeCharge.Operation(rawValue: try row.string(0)) else { return nil }
                return FeeLineTotal(operation: operation, tariffID: try row.string(1), unitPriceYen: try row.int(2),
                                    count: UInt64(try row.int(3)), amountYen: try row.int(4))
            }
            return (lines, lines.reduce(0) { $0 + $1.count })
        }
    }
}
