import LinkcoreAudit
import LinkcoreStore
import PostgresNIO

/// The writes a batch carries in bulk: all of a kind in a constant number of statements, whatever
/// the batch's size (one statement is one round trip, and the round trips, not the disk, bound a
/// batch on PostgreSQL). `PostgresGroupCommit` hands each lane its items; the outcomes come back in
/// the same order, nil for an item that needs the general path (its write alone, after its own
/// savepoint).
///
/// - Appends: the head row locked once (`FOR UPDATE`), positions and hashes computed here in
///   order, then one statement inserts every entry and fee (`unnest` of arrays) and moves the
///   head: 2 statements for the lane.
/// - Issuances: one statement calls `linkcore_issue_link` (migration 2) per row; the function
///   catches a row's error in its own subtransaction (PL/pgSQL `EXCEPTION`), so a failing row
///   rolls back alone, as a savepoint would, without the round trips: 1 statement for the lane.
///
/// A lane's statements follow a `SAVEPOINT b` when the batch holds other writes: if a statement
/// fails as a whole (say a text with a NUL byte), the lane rolls back to it and every item takes
/// the general path, so its batch-mates are not failed with it.
enum PostgresBulk {
    enum Lane: CaseIterable, Sendable { case append, issue }

    struct Issue: Sendable {
        let residentHash: [UInt8]
        let orgCode: String
        let matchingNumber: String
        let expiresAtMs: Int64
        let nowMs: Int64
        /// The ID code a new resident gets (drawn when the write is asked for).
        let candidateIDCode: Int64
        let charge: FeeCharge?
    }

    enum Kind: Sendable {
        case append(AccessRecord, FeeCharge?)
        case issue(Issue)

        var lane: Lane {
            switch self {
            case .append: return .append
            case .issue: return .issue
            }
        }
    }

    typealias Outcome = Result<any Sendable, any Error>

    /// Runs one lane's items (all of the same lane) inside the batch's transaction.
    static func run(_ kinds: [Kind], in db: PostgresSession, savepoint: Bool) async -> [Outcome?] {
        guard let first = kinds.first else { return [] }
        do {
            if savepoint { try await db.execute("SAVEPOINT b") }
            switch first.lane {
            case .append: return try await appends(kinds, in: db)
            case .issue: return try await issues(kinds, in: db)
            }
        } catch {
            let mapped = PostgresErrors.map(error)
            // Alone in its batch, the write's failure is its own; a lost connection fails all.
            guard savepoint, !PostgresErrors.isConnectionLoss(error) else { return kinds.map { _ in .failure(mapped) } }
            do {
                try await db.execute("ROLLBACK TO SAVEPOINT b")
            } catch {
                return kinds.map { _ in .failure(PostgresErrors.map(error)) }
            }
            return kinds.map { _ in nil }
        }
    }

    static func appends(_ kinds: [Kind], in db: PostgresSession) async throws -> [Outcome?] {
        let items = kinds.compactMap { kind -> (AccessRecord, FeeCharge?)? in
            if case let .append(record, charge) = kind { return (record, charge) }
            return nil
        }
        guard let head = try await db.first("SELECT position, hash FROM access_head WHERE id = 1 FOR UPDATE") else {
            throw StoreError.unavailable("the access log's head row is missing")
        }
        // The chain in the batch's order, from the locked head: one chain, positions without gaps.
        var position = UInt64(try head.int(0))
        var previous = try head.bytes(1)
        var chained: [ChainedRecord] = []
        for (record, _) in items {
            position += 1
            previous = AccessChain.hash(previous: previous, position: position, record: record)
            chained.append(ChainedRecord(position: position, record: record, hash: previous))
        }
        let records = chained.map(\.record)
        let fees = items.compactMap(\.1)
        // Data-modifying WITH parts run whether or not they are referenced; DO NOTHING also
        // tolerates two rows of one (operation, reference) in the same statement.
        try await db.execute("""
            WITH log AS (
                INSERT INTO access_log (position, mediation_id, id_code, at_ms, requester, provider, bp_id, info_type, outcome, hash)
                SELECT * FROM unnest(\(chained.map { Int64($0.position) })::bigint[], \(records.map(\.mediationID))::text[],
                    \(records.map { Int64(bitPattern: $0.idCode) })::bigint[], \(records.map(\.atMs))::bigint[],
                    \(records.map(\.requester))::text[], \(records.map(\.provider))::text[], \(records.map(\.bpID))::text[],
                    \(records.map(\.infoType))::text[], \(records.map { Int64($0.outcome.rawValue) })::bigint[],
                    \(chained.map(\.hash.bytea))::bytea[])
            ), fees AS (
                INSERT INTO fee_ledger (payer, operation, reference, amount_yen, tariff_id, at_ms)
                SELECT * FROM unnest(\(fees.map(\.payer))::text[], \(fees.map(\.operation.rawValue))::text[],
                    \(fees.map(\.reference))::text[], \(fees.map(\.amountYen))::bigint[], \(fees.map(\.tariffID))::text[],
                    \(fees.map(\.atMs))::bigint[])
                ON CONFLICT (operation, reference) DO NOTHING
            )
            UPDATE access_head SET position = \(Int64(position)), hash = \(previous.bytea) WHERE id = 1
            """)
        return chained.map { .success($0) }
    }

    static func issues(_ kinds: [Kind], in db: PostgresSession) async throws -> [Outcome?] {
        let items = kinds.compactMap { kind -> Issue? in
            if case let .issue(issue) = kind { return issue }
            return nil
        }
        // No charge: a row with charged = false (the function then ignores the fee columns).
        let charges = items.map(\.charge)
        let rows = try await db.rows("""
            SELECT a.n, f.o_status, f.o_id_code, f.o_key_index, f.o_linked_at, f.o_unlinked_at, f.o_expires_at, f.o_acked_at, f.o_created
            FROM unnest(\(items.map(\.residentHash.bytea))::bytea[], \(items.map(\.orgCode))::text[],
                        \(items.map(\.matchingNumber))::text[], \(items.map(\.expiresAtMs))::bigint[], \(items.map(\.nowMs))::bigint[],
                        \(items.map(\.candidateIDCode))::bigint[], \(charges.map { $0 != nil })::boolean[],
                        \(charges.map { $0?.payer ?? "" })::text[], \(charges.map { $0?.operation.rawValue ?? "" })::text[],
                        \(charges.map { $0?.reference ?? "" })::text[], \(charges.map { $0?.amountYen ?? 0 })::bigint[],
                        \(charges.map { $0?.tariffID ?? "" })::text[], \(charges.map { $0?.atMs ?? 0 })::bigint[])
                 WITH ORDINALITY AS a(h, org, num, expires, now_ms, candidate, charged, payer, op, ref, amount, tariff, charge_at, n)
            CROSS JOIN LATERAL linkcore_issue_link(a.h, a.org, a.num, a.expires, a.now_ms, a.candidate, a.charged, a.payer, a.op,
                                                   a.ref, a.amount, a.tariff, a.charge_at) AS f
            ORDER BY a.n
            """)
        var outcomes = [Outcome?](repeating: nil, count: items.count)
        for row in rows {
            let index = Int(try row.int(0)) - 1
            guard items.indices.contains(index) else { continue }
            let item = items[index]
            let status = try row.string(1)
            switch status {
            case "ok":
                let link = Link(idCode: UInt64(bitPattern: try row.int(2)), orgCode: item.orgCode,
                                keyIndex: UInt16(truncatingIfNeeded: try row.int(3)), linkedAtMs: try row.int(4),
                                unlinkedAtMs: try row.optionalInt(5))
                let issuance = Issuance(matchingNumber: item.matchingNumber, link: link, expiresAtMs: try row.int(6),
                                        acknowledgedAtMs: try row.optionalInt(7))
                let result: (issuance: Issuance, created: Bool) = (issuance, try row.bool(8))
                outcomes[index] = .success(result)
            case "refused":
                outcomes[index] = .failure(StoreError.matchingNumberRefused)
            case "no_org":
                outcomes[index] = .failure(StoreError.notFound("organisation \(item.orgCode)"))
            case "retry":
                outcomes[index] = nil  // an ID code clash or a concurrent insert: the general path re-reads
            default:
                outcomes[index] = .failure(StoreError.unavailable("PostgreSQL: \(status)"))
            }
        }
        return outcomes
    }
}
