import LinkcoreAudit
import LinkcoreStore
import PostgresNIO

/// The writes a batch carries in bulk: all of a kind in a constant number of statements, whatever
/// the batch's size (one statement is one round trip, and the round trips, not the disk, bound a
/// batch on PostgreSQL). `PostgresGroupCommit` hands each lane its items; the outcomes come back in
/// the same order, nil for an item that needs the general path (its write alone, after its own
/// savepoint).
///
/// - Appends (access-log entries, and mediations' decisions under idempotency keys): the keys'
///   bindings read and locked in one statement (`FOR UPDATE`, before the head: the order the
///   general path takes them in too), the head row locked once, each item decided here in order
///   as `appendMediation` would (a repeat, an unchanged retry, a reused key refused alone, or a
///   new entry at the next position), then one statement inserts every entry, fee and binding
///   (`unnest` of arrays), counts the repeats and moves the head: 2-3 statements for the lane.
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
        case mediation(AccessRecord, FeeCharge?, MediationKey)
        case issue(Issue)

        var lane: Lane {
            switch self {
            case .append, .mediation: return .append
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

    /// What the lane's statement writes for a key: its binding after the lane's last item.
    private struct Binding {
        var fingerprint: [UInt8]
        var mediationID: String
        var position: Int64
        var answered: Bool
        var createdAt: Int64
    }

    static func appends(_ kinds: [Kind], in db: PostgresSession) async throws -> [Outcome?] {
        // The bindings of the lane's keys, locked until the batch ends (the general path's lock).
        let keys = kinds.compactMap { kind -> MediationKey? in
            if case let .mediation(_, _, key) = kind { return key }
            return nil
        }
        var bindings: [String: Binding] = [:]
        func id(_ key: MediationKey) -> String { key.requester + "\u{1F}" + key.key }
        if !keys.isEmpty {
            for row in try await db.rows("""
                SELECT requester, idem_key, fingerprint, mediation_id, position, answered, created_at FROM mediation_keys
                WHERE (requester, idem_key) IN (SELECT * FROM unnest(\(keys.map(\.requester))::text[], \(keys.map(\.key))::text[]))
                ORDER BY requester, idem_key FOR UPDATE
                """) {
                let bound = try row.string(0) + "\u{1F}" + row.string(1)
                bindings[bound] = Binding(
                    fingerprint: try row.bytes(2), mediationID: try row.string(3), position: try row.int(4), answered: try row.bool(5),
                    createdAt: try row.int(6))
            }
        }
        guard let head = try await db.first("SELECT position, hash FROM access_head WHERE id = 1 FOR UPDATE") else {
            throw StoreError.unavailable("the access log's head row is missing")
        }
        // Each item in the lane's order, from the locked head: one chain, positions without gaps.
        var position = UInt64(try head.int(0))
        var previous = try head.bytes(1)
        let first = position + 1
        var chained: [ChainedRecord] = []
        var repeats: [UInt64: Int64] = [:]
        var fees: [FeeCharge] = []
        var changedKeys: [String: MediationKey] = [:]
        var outcomes: [Outcome?] = []
        func append(_ record: AccessRecord, _ charge: FeeCharge?) -> ChainedRecord {
            position += 1
            previous = AccessChain.hash(previous: previous, position: position, record: record)
            let entry = ChainedRecord(position: position, record: record, hash: previous)
            chained.append(entry)
            if let charge { fees.append(charge) }
            return entry
        }
        for kind in kinds {
            switch kind {
            case let .append(record, charge):
                outcomes.append(.success(append(record, charge)))
            case let .mediation(record, charge, key):
                // As `appendMediation`, on the bindings as the lane's earlier items left them.
                let bound = bindings[id(key)].flatMap { $0.createdAt >= key.notBeforeMs ? $0 : nil }
                if let bound, bound.fingerprint != key.fingerprint {
                    outcomes.append(.failure(StoreError.idempotencyKeyReused))
                } else if let bound, bound.answered {
                    if record.outcome == .answered {
                        repeats[UInt64(bound.position), default: 0] += 1
                        outcomes.append(.success(MediationWrite.repeated(mediationID: bound.mediationID, position: UInt64(bound.position))))
                    } else {
                        outcomes.append(.success(MediationWrite.unchanged(mediationID: bound.mediationID)))
                    }
                } else {
                    let entry = append(record, charge)
                    if bound == nil || record.outcome == .answered {
                        bindings[id(key)] = Binding(fingerprint: key.fingerprint, mediationID: record.mediationID, position: Int64(entry.position),
                                                    answered: record.outcome == .answered, createdAt: key.boundAtMs ?? record.atMs)
                        changedKeys[id(key)] = key
                    }
                    outcomes.append(.success(MediationWrite.appended(entry)))
                }
            case .issue:
                outcomes.append(nil)
            }
        }
        let records = chained.map(\.record)
        // A repeat of an entry of this lane goes into its row; of an older one, into an UPDATE
        // (one statement's parts all see the snapshot before it: the UPDATE cannot see new rows).
        let newRepeats = chained.map { repeats[$0.position] ?? 0 }
        let oldRepeats = repeats.filter { $0.key < first }.sorted { $0.key < $1.key }
        // One row per key (ON CONFLICT DO UPDATE may not touch a row twice in one statement).
        let keyRows = changedKeys.compactMap { id, key in bindings[id].map { (key: key, binding: $0) } }
        // Data-modifying WITH parts run whether or not they are referenced; DO NOTHING also
        // tolerates two rows of one (operation, reference) in the same statement.
        try await db.execute("""
            WITH log AS (
                INSERT INTO access_log (position, mediation_id, id_code, at_ms, requester, provider, bp_id, info_type, outcome, hash,
                    digest, repeats)
                -- The resident digest (v2 entries) travels as an empty bytea for a v1 entry: an
                -- array of optionals does not encode; NULLIF turns it back into NULL.
                SELECT u.p, u.m, u.i, u.a, u.rq, u.pv, u.bp, u.it, u.o, u.h, NULLIF(u.d, ''::bytea), u.r
                FROM unnest(\(chained.map { Int64($0.position) })::bigint[], \(records.map(\.mediationID))::text[],
                    \(records.map { Int64(bitPattern: $0.idCode) })::bigint[], \(records.map(\.atMs))::bigint[],
                    \(records.map(\.requester))::text[], \(records.map(\.provider))::text[], \(records.map(\.bpID))::text[],
                    \(records.map(\.infoType))::text[], \(records.map { Int64($0.outcome.rawValue) })::bigint[],
                    \(chained.map(\.hash.bytea))::bytea[], \(records.map { ($0.residentDigest ?? []).bytea })::bytea[],
                    \(newRepeats)::bigint[]) AS u(p, m, i, a, rq, pv, bp, it, o, h, d, r)
            ), fees AS (
                INSERT INTO fee_ledger (payer, operation, reference, amount_yen, tariff_id, at_ms)
                SELECT * FROM unnest(\(fees.map(\.payer))::text[], \(fees.map(\.operation.rawValue))::text[],
                    \(fees.map(\.reference))::text[], \(fees.map(\.amountYen))::bigint[], \(fees.map(\.tariffID))::text[],
                    \(fees.map(\.atMs))::bigint[])
                ON CONFLICT (operation, reference) DO NOTHING
            ), keys AS (
                INSERT INTO mediation_keys (requester, idem_key, fingerprint, mediation_id, position, answered, created_at)
                SELECT * FROM unnest(\(keyRows.map { $0.key.requester })::text[], \(keyRows.map { $0.key.key })::text[],
                    \(keyRows.map { $0.binding.fingerprint.bytea })::bytea[], \(keyRows.map { $0.binding.mediationID })::text[],
                    \(keyRows.map { $0.binding.position })::bigint[], \(keyRows.map { $0.binding.answered })::boolean[],
                    \(keyRows.map { $0.binding.createdAt })::bigint[])
                ON CONFLICT (requester, idem_key) DO UPDATE SET fingerprint = excluded.fingerprint,
                    mediation_id = excluded.mediation_id, position = excluded.position, answered = excluded.answered,
                    created_at = excluded.created_at
            ), counted AS (
                UPDATE access_log a SET repeats = a.repeats + r.n
                FROM unnest(\(oldRepeats.map { Int64($0.key) })::bigint[], \(oldRepeats.map(\.value))::bigint[]) AS r(p, n)
                WHERE a.position = r.p
            )
            UPDATE access_head SET position = \(Int64(position)), hash = \(previous.bytea) WHERE id = 1
            """)
        return outcomes
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
