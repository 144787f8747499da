import LinkcoreAudit
import LinkcoreStore
import Logging
import PostgresNIO
import Synchronization

/// The core store on PostgreSQL (issue 16): the same interface and behaviour as `SQLiteCoreStore`,
/// checked by the same conformance suite (Tests/LinkcoreStoreTests). Writes are batched on one
/// connection (`PostgresGroupCommit`: one transaction per batch, each caller answered after the
/// COMMIT that carries it; `synchronous_commit` is on for every session). Reads go to their own
/// connections, round robin, so they never wait behind a batch's commit. A lost connection is
/// reopened on the next use; meanwhile the store throws `StoreError.unavailable` (retryable).
public final class PostgresCoreStore: CoreStore, Sendable {
    let writer: PostgresGroupCommit
    let readers: [PostgresLink]
    private let next = Mutex<Int>(0)
    let probe = Mutex<Task<Void, Never>?>(nil)
    public let settings: PostgresSettings
    let logger: Logger

    /// Connects, runs the migrations (under the advisory lock: safe when several nodes start at
    /// once) and returns the store. Throws `StoreError.unavailable` when PostgreSQL cannot be reached.
    /// `bulkWrites: false` writes each write of a batch alone after its savepoint (the general
    /// path): for store-bench's comparison, never for production.
    public static func open(settings: PostgresSettings, readers: Int = 2, logger: Logger = Logger(label: "linkcore.store.postgresql"),
                            bulkWrites: Bool = true) async throws -> PostgresCoreStore {
        let store = PostgresCoreStore(settings: settings, readers: readers, logger: logger, bulkWrites: bulkWrites)
        let connection = try await store.writer.link.connection()
        do {
            let (from, to) = try await PostgresSchema.migrate(PostgresSession(connection: connection, logger: logger))
            if from != to { logger.notice("PostgreSQL schema migrated", metadata: ["from": "\(from)", "to": "\(to)"]) }
        } catch {
            throw PostgresErrors.map(error)
        }
        store.startProbing()
        return store
    }

    init(settings: PostgresSettings, readers: Int, logger: Logger, bulkWrites: Bool = true) {
        self.settings = settings
        self.logger = logger
        writer = PostgresGroupCommit(link: PostgresLink(settings: settings, name: "write", logger: logger), label: "linkcore.store.postgresql",
                                     bulk: bulkWrites)
        self.readers = (0..<max(1, readers)).map { PostgresLink(settings: settings, name: "read-\($0)", logger: logger) }
    }

    /// Batches committed so far and the writes they carried (writes / commits: the mean batch).
    public var counters: (commits: UInt64, writes: UInt64) { writer.counters }

    public func close() async {
        probe.withLock { $0?.cancel(); $0 = nil }
        await writer.link.close()
        for reader in readers { await reader.close() }
    }

    /// How long a read may wait for an answer from the server (between its statements) before
    /// its connection is closed and the caller answered unavailable: a statement takes
    /// milliseconds; this is for a server that stopped answering (see `PostgresDeadline`).
    static let readTimeout = Duration.seconds(10)

    func read<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) async throws -> T) async throws -> T {
        let link = readers[next.withLock { n in defer { n = (n + 1) % readers.count }; return n }]
        let connection = try await link.connection()
        let logger = self.logger
        do {
            let heartbeat = Heartbeat()
            let answer = try await PostgresDeadline.run(within: Self.readTimeout, heartbeat: heartbeat, onTimeout: { link.discard(connection) }) {
                try await body(PostgresSession(connection: connection, logger: logger, heartbeat: heartbeat))
            }
            guard let answer else {
                logger.error("PostgreSQL did not answer a read in time; its connection is closed",
                             metadata: ["connection": "\(link.name)", "timeout": "\(Self.readTimeout)"])
                throw StoreError.unavailable("PostgreSQL did not answer within \(Self.readTimeout)")
            }
            return answer
        } catch {
            if PostgresErrors.isConnectionLoss(error) { link.discard(connection) }
            throw PostgresErrors.map(error)
        }
    }

    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) async throws -> T) async throws -> T {
        try await writer.write(body)
    }

    // MARK: organisations

    public func addOrganisation(_ org: Organisation) async throws {
        try await write { db in
            do {
                try await db.execute("""
                    INSERT INTO organisations (code, name, sector, role, suspended, key_index, created_at, licensed_verifier)
                    VALUES (\(org.code), \(org.name), \(Int64(org.sector.rawValue)), \(Int64(org.role.rawValue)), \(org.suspended),
                            \(Int64(org.keyIndex)), \(org.createdAtMs), \(org.licensedVerifier))
                    """)
            } catch where PostgresErrors.isUniqueViolation(error) {
                throw StoreError.duplicate("organisation \(org.code)")
            }
        }
    }

    static let orgColumns = "code, name, sector, role, suspended, key_index, created_at, licensed_verifier"

    static func organisation(_ row: Columns) throws -> Organisation? {
        guard let sector = OrgSector(rawValue: Int(try row.int(2))), let role = OrgRole(rawValue: Int(try row.int(3))) else { return nil }
        return Organisation(code: try row.string(0), name: try row.string(1), sector: sector, role: role, suspended: try row.bool(4),
                            keyIndex: UInt16(truncatingIfNeeded: try row.int(5)), createdAtMs: try row.int(6),
                            licensedVerifier: try row.bool(7))
    }

    static func organisation(_ db: PostgresSession, _ code: String) async throws -> Organisation? {
        try await db.first("SELECT \(unescaped: orgColumns) FROM organisations WHERE code = \(code)").flatMap(organisation)
    }

    public func organisation(_ code: String) async throws -> Organisation? {
        try await read { db in try await Self.organisation(db, code) }
    }

    public func organisations() async throws -> [Organisation] {
        try await read { db in
            try await db.rows("SELECT \(unescaped: Self.orgColumns) FROM organisations ORDER BY code").compactMap(Self.organisation)
        }
    }

    public func setSuspended(_ code: String, _ suspended: Bool) async throws -> Organisation {
        try await write { db in
            guard let row = try await db.first("""
                UPDATE organisations SET suspended = \(suspended) WHERE code = \(code) RETURNING \(unescaped: Self.orgColumns)
                """), let org = try Self.organisation(row) else { throw StoreError.notFound("organisation \(code)") }
            return org
        }
    }

    public func setLicensedVerifier(_ code: String, _ licensed: Bool) async throws -> Organisation {
        try await write { db in
            guard let row = try await db.first("""
                UPDATE organisations SET licensed_verifier = \(licensed) WHERE code = \(code) RETURNING \(unescaped: Self.orgColumns)
                """), let org = try Self.organisation(row) else { throw StoreError.notFound("organisation \(code)") }
            return org
        }
    }

    public func rotateKey(_ code: String) async throws -> UInt16 {
        try await write { db in
            guard let index = try await db.first("""
                UPDATE organisations SET key_index = key_index + 1 WHERE code = \(code) AND key_index < 1023 RETURNING key_index
                """)?.int(0) else { throw StoreError.notFound("organisation \(code) (or its key indexes are exhausted)") }
            return UInt16(index)
        }
    }

    // MARK: links

    static let linkColumns = "id_code, org_code, key_index, linked_at, unlinked_at"

    static func link(_ row: Columns, from o: Int = 0) throws -> Link {
        Link(idCode: UInt64(bitPattern: try row.int(o)), orgCode: try row.string(o + 1), keyIndex: UInt16(truncatingIfNeeded: try row.int(o + 2)),
             linkedAtMs: try row.int(o + 3), unlinkedAtMs: try row.optionalInt(o + 4))
    }

    static func issuance(_ row: Columns) throws -> Issuance {
        Issuance(matchingNumber: try row.string(0), link: try link(row, from: 1), expiresAtMs: try row.int(6),
                 acknowledgedAtMs: try row.optionalInt(7))
    }

    static let issuanceQuery = """
        SELECT i.matching_number, l.id_code, l.org_code, l.key_index, l.linked_at, l.unlinked_at, i.expires_at, i.acked_at
        FROM issuances i JOIN links l ON l.link_id = i.link_id
        """

    static func issuance(_ db: PostgresSession, _ number: String) async throws -> Issuance? {
        try await db.first("\(unescaped: issuanceQuery) WHERE i.matching_number = \(number)").map(issuance)
    }

    public func issueLink(residentHash: [UInt8], orgCode: String, matchingNumber: String, expiresAtMs: Int64,
                          nowMs: Int64, newIDCode: @escaping @Sendable () -> UInt64, charge: FeeCharge?) async throws -> (issuance: Issuance, created: Bool) {
        // Carried in bulk by the batch (`PostgresBulk.issues`, the same steps server-side); the
        // body below is the general path for a row the bulk statement sends back.
        let bulk = PostgresBulk.Issue(residentHash: residentHash, orgCode: orgCode, matchingNumber: matchingNumber,
                                      expiresAtMs: expiresAtMs, nowMs: nowMs, candidateIDCode: Int64(bitPattern: newIDCode()),
                                      charge: charge)
        return try await writer.bulkWrite(.issue(bulk)) { db in
            // A matching number is used once: a replay is idempotent only for the same org and resident.
            if let existing = try await Self.issuance(db, matchingNumber) {
                let sameResident = try await db.first("""
                    SELECT 1 FROM residents WHERE id_code = \(Int64(bitPattern: existing.link.idCode)) AND resident_hash = \(residentHash.bytea)
                    """) != nil
                guard existing.link.orgCode == orgCode, sameResident, existing.link.isLive else { throw StoreError.matchingNumberRefused }
                return (existing, false)
            }
            guard expiresAtMs > nowMs else { throw StoreError.matchingNumberRefused }
            guard let keyIndex = try await db.first("SELECT key_index FROM organisations WHERE code = \(orgCode)")?.int(0) else {
                throw StoreError.notFound("organisation \(orgCode)")
            }
            let idCode = try await Self.resident(db, hash: residentHash, nowMs: nowMs, newIDCode: newIDCode)
            var created = false
            var linkID = try await db.first("""
                SELECT link_id FROM links WHERE id_code = \(idCode) AND org_code = \(orgCode) AND unlinked_at IS NULL
                """)?.int(0)
            if linkID == nil {
                // Another node may create the same live link at the same moment: the unique
                // index makes one of them wait and then find nothing to insert.
                linkID = try await db.first("""
                    INSERT INTO links (id_code, org_code, key_index, linked_at) VALUES (\(idCode), \(orgCode), \(keyIndex), \(nowMs))
                    ON CONFLICT (id_code, org_code) WHERE unlinked_at IS NULL DO NOTHING RETURNING link_id
                    """)?.int(0)
                if linkID != nil {
                    created = true
                    if let charge { try await Self.insert(charge, in: db) }
                } else {
                    linkID = try await db.first("""
                        SELECT link_id FROM links WHERE id_code = \(idCode) AND org_code = \(orgCode) AND unlinked_at IS NULL
                        """)?.int(0)
                }
            }
            guard let linkID else { throw StoreError.unavailable("the live link vanished") }
            try await db.execute("""
                INSERT INTO issuances (matching_number, link_id, expires_at, created_at)
                VALUES (\(matchingNumber), \(linkID), \(expiresAtMs), \(nowMs))
                """)
            guard let issuance = try await Self.issuance(db, matchingNumber) else { throw StoreError.unavailable("issuance vanished") }
            return (issuance, created)
        }
    }

    /// The resident's ID code, creating the row under a fresh random ID code on first sight
    /// (retrying the astronomically rare clash). ON CONFLICT keeps the transaction usable when
    /// another writer inserted the same resident meanwhile.
    static func resident(_ db: PostgresSession, hash: [UInt8], nowMs: Int64, newIDCode: () -> UInt64) async throws -> Int64 {
        for _ in 0..<8 {
            if let found = try await db.first("SELECT id_code FROM residents WHERE resident_hash = \(hash.bytea)")?.int(0) { return found }
            let candidate = Int64(bitPattern: newIDCode())
            if let inserted = try await db.first("""
                INSERT INTO residents (id_code, resident_hash, created_at) VALUES (\(candidate), \(hash.bytea), \(nowMs))
                ON CONFLICT DO NOTHING RETURNING id_code
                """)?.int(0) {
                return inserted
            }
        }
        throw StoreError.unavailable("could not allocate an ID code")
    }

    public func issuance(matchingNumber: String) async throws -> Issuance? {
        try await read { db in try await Self.issuance(db, matchingNumber) }
    }

    public func acknowledgeIssuance(matchingNumber: String, orgCode: String, nowMs: Int64) async throws {
        try await write { db in
            try await db.execute("""
                UPDATE issuances SET acked_at = \(nowMs) WHERE matching_number = \(matchingNumber) AND acked_at IS NULL
                AND EXISTS (SELECT 1 FROM links l WHERE l.link_id = issuances.link_id AND l.org_code = \(orgCode))
                """)
        }
    }

    public func unacknowledgedIssuances(orgCode: String, limit: Int) async throws -> [Issuance] {
        try await read { db in
            try await db.rows("""
                \(unescaped: Self.issuanceQuery) WHERE l.org_code = \(orgCode) AND i.acked_at IS NULL AND l.unlinked_at IS NULL
                ORDER BY i.created_at LIMIT \(Int64(limit))
                """).map(Self.issuance)
        }
    }

    public func liveLink(idCode: UInt64, orgCode: String) async throws -> Link? {
        try await read { db in
            try await db.first("""
                SELECT \(unescaped: Self.linkColumns) FROM links
                WHERE id_code = \(Int64(bitPattern: idCode)) AND org_code = \(orgCode) AND unlinked_at IS NULL
                """).map { try Self.link($0) }
        }
    }

    public func unlink(idCode: UInt64, orgCode: String, nowMs: Int64) async throws -> Link? {
        try await write { db in
            try await db.first("""
                UPDATE links SET unlinked_at = \(nowMs)
                WHERE id_code = \(Int64(bitPattern: idCode)) AND org_code = \(orgCode) AND unlinked_at IS NULL
                RETURNING \(unescaped: Self.linkColumns)
                """).map { try Self.link($0) }
        }
    }
}
