import LinkcoreAudit

/// The core's durable state, behind one interface with an engine per database (SQLite now,
/// PostgreSQL for several core nodes). Every method that changes state returns only after the
/// change is durable: callers acknowledge to peers after it returns, never before.
public protocol CoreStore: Sendable {
    // Organisations
    func addOrganisation(_ org: Organisation) async throws
    func organisation(_ code: String) async throws -> Organisation?
    func organisations() async throws -> [Organisation]
    func setSuspended(_ code: String, _ suspended: Bool) async throws -> Organisation
    /// Grants or withdraws an organisation's licence as a verifier (durable before it returns).
    func setLicensedVerifier(_ code: String, _ licensed: Bool) async throws -> Organisation
    /// Starts a new key index for the organisation's new links; returns it.
    func rotateKey(_ code: String) async throws -> UInt16

    // Links
    /// Issues (or finds) the organisation's live link for the resident with this keyed hash,
    /// creating the resident's ID code on first sight, and records the issuance under the
    /// matching number. Idempotent for a repeated matching number of the same org and resident.
    /// `charge` is written with it when a link is created (a found link is not charged again).
    func issueLink(residentHash: [UInt8], orgCode: String, matchingNumber: String, expiresAtMs: Int64,
                   nowMs: Int64, newIDCode: @escaping @Sendable () -> UInt64, charge: FeeCharge?) async throws -> (issuance: Issuance, created: Bool)
    func issuance(matchingNumber: String) async throws -> Issuance?
    func acknowledgeIssuance(matchingNumber: String, orgCode: String, nowMs: Int64) async throws
    /// Issuances an organisation has not acknowledged yet, oldest first.
    func unacknowledgedIssuances(orgCode: String, limit: Int) async throws -> [Issuance]
    /// The organisation's live link for an ID code, if any.
    func liveLink(idCode: UInt64, orgCode: String) async throws -> Link?
    /// Ends a live link; returns it with its unlink time, or nil if there was none.
    func unlink(idCode: UInt64, orgCode: String, nowMs: Int64) async throws -> Link?
    /// Sign-in links (issue 15, item 6): finds or creates the organisation's live link for the
    /// resident with this ID code (under the organisation's current key index, as a
    /// matcher-issued link), and appends `access` (and `charge`, when a link is created and a
    /// charge is given) in the same durable write. Throws `StoreError.notFound` for an unknown
    /// organisation.
    func serviceLink(idCode: UInt64, orgCode: String, nowMs: Int64, access: AccessRecord,
                     charge: FeeCharge?) async throws -> (link: Link, created: Bool)

    // Access log
    /// Appends one entry to the hash-chained access log, with its fee if the operation is
    /// chargeable, in one transaction; returns the entry as chained once durable.
    func appendAccess(_ record: AccessRecord, charge: FeeCharge?) async throws -> ChainedRecord
    /// Writes a mediation's decision under the requester's idempotency key, in one transaction:
    /// the key's binding, and either a new entry with its fee, or (an answered retry of an
    /// answered mediation) one more repeat on the entry it repeats, or (an unanswered retry of an
    /// answered mediation) nothing. Throws
    /// `StoreError.idempotencyKeyReused` when the live key is bound to other fields.
    func appendMediation(_ record: AccessRecord, charge: FeeCharge?, key: MediationKey) async throws -> MediationWrite
    /// The live binding of a requester's key, if any.
    func mediationKey(_ key: MediationKey) async throws -> MediationKeyBinding?
    /// Forgets keys bound before `beforeMs`; returns how many.
    @discardableResult
    func purgeMediationKeys(beforeMs: Int64) async throws -> Int
    /// One resident's entries with at_ms in [fromMs, toMs), oldest first, after `afterPosition`.
    func loggedAccess(idCode: UInt64, fromMs: Int64, toMs: Int64, afterPosition: UInt64, limit: Int) async throws -> [LoggedAccess]
    /// The same newest first, before `beforePosition` (0: from the head). Has a default.
    func loggedAccessNewestFirst(idCode: UInt64, fromMs: Int64, toMs: Int64, beforePosition: UInt64, limit: Int) async throws -> [LoggedAccess]
    /// The chain hashes at these positions (absent positions left out). Has a default.
    func accessHashes(positions: [UInt64]) async throws -> [UInt64: [UInt8]]
    /// The last entry, if any.
    func accessHead() async throws -> ChainedRecord?
    /// The whole log in order, a page at a time, for verification.
    func accessChain(afterPosition: UInt64, limit: Int) async throws -> [ChainedRecord]
    /// Records a signed checkpoint of the chain at `position`.
    func addCheckpoint(_ checkpoint: AuditCheckpoint) async throws
    /// All checkpoints, oldest first.
    func checkpoints() async throws -> [AuditCheckpoint]
    /// The latest checkpoint, if any (what the next one chains on from).
    func newestCheckpoint() async throws -> AuditCheckpoint?
    /// The checkpoints at `position` and later, oldest first (what the core builds on: few).
    func checkpoints(fromPosition position: UInt64) async throws -> [AuditCheckpoint]

    // Fees
    /// Records a charge on its own (operations without an access-log entry). A charge for an
    /// (operation, reference) already in the ledger is ignored: returns false.
    @discardableResult
    func charge(_ charge: FeeCharge) async throws -> Bool
    /// A payer's ledger in [fromMs, toMs), summed by operation, tariff and unit price; and the
    /// number of ledger rows summed.
    func feeLines(payer: String, fromMs: Int64, toMs: Int64) async throws -> (lines: [FeeLineTotal], entries: UInt64)

    // Health
    /// Why the store cannot take work now, or nil (has a default: nil).
    var unavailability: String? { get }
}

extension CoreStore {
    /// Why the store cannot take work now (its database cannot be reached), or nil when it can:
    /// the node then reports not-ready. An embedded SQLite file is always there.
    public var unavailability: String? { nil }

    /// A store that has no index for it reads the resident's entries oldest first and keeps the
    /// newest (SQLiteCoreStore overrides both with one query each).
    public func loggedAccessNewestFirst(idCode: UInt64, fromMs: Int64, toMs: Int64, beforePosition: UInt64,
                                        limit: Int) async throws -> [LoggedAccess] {
        var all: [LoggedAccess] = []
        var after: UInt64 = 0
        while true {
            let rows = try await loggedAccess(idCode: idCode, fromMs: fromMs, toMs: toMs, afterPosition: after, limit: 1000)
            all += rows.filter { beforePosition == 0 || $0.chained.position < beforePosition }
            guard rows.count == 1000, let last = rows.last else { break }
            after = last.chained.position
        }
        return Array(all.reversed().prefix(limit))
    }

    public func accessHashes(positions: [UInt64]) async throws -> [UInt64: [UInt8]] {
        var hashes: [UInt64: [UInt8]] = [:]
        for position in Set(positions) where position >= 1 {
            if let entry = try await accessChain(afterPosition: position - 1, limit: 1).first, entry.position == position {
                hashes[position] = entry.hash
            }
        }
        return hashes
    }

    public func appendAccess(_ record: AccessRecord) async throws -> ChainedRecord {
        try await appendAccess(record, charge: nil)
    }

    /// One resident's entries with at_ms in [fromMs, toMs), oldest first, after `afterPosition`.
    public func accessEntries(idCode: UInt64, fromMs: Int64, toMs: Int64, afterPosition: UInt64, limit: Int) async throws -> [ChainedRecord] {
        try await loggedAccess(idCode: idCode, fromMs: fromMs, toMs: toMs, afterPosition: afterPosition, limit: limit).map(\.chained)
    }
}
