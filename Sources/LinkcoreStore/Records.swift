import LinkcoreAudit

/// Rows of the core's store, as the domain sees them. Nothing here can hold the four basic
/// facts or a resident code in clear: residents are known by a keyed hash and an ID code.

public enum OrgSector: Int, Sendable, Codable, CaseIterable { case publicBody = 1, privateSector = 2 }
public enum OrgRole: Int, Sendable, Codable, CaseIterable { case agency = 1, privateConnector = 2, matcher = 3, portal = 4, cardAuthority = 5 }

public struct Organisation: Sendable, Equatable {
    public var code: String
    public var name: String
    public var sector: OrgSector
    public var role: OrgRole
    public var suspended: Bool
    /// The key index new links of this organisation use.
    public var keyIndex: UInt16
    public var createdAtMs: Int64
    /// A licensed verifier (署名検証者 / 利用者証明検証者): the card authority answers its
    /// certificate queries. Granted and withdrawn by the operator only.
    public var licensedVerifier: Bool

    public init(code: String, name: String, sector: OrgSector, role: OrgRole, suspended: Bool = false, keyIndex: UInt16 = 1, createdAtMs: Int64,
                licensedVerifier: Bool = false) {
        self.code = code; self.name = name; self.sector = sector; self.role = role
        self.suspended = suspended; self.keyIndex = keyIndex; self.createdAtMs = createdAtMs
        self.licensedVerifier = licensedVerifier
    }
}

/// One organisation's link to one resident (a row of the ID table).
public struct Link: Sendable, Equatable {
    public var idCode: UInt64
    public var orgCode: String
    public var keyIndex: UInt16
    public var linkedAtMs: Int64
    public var unlinkedAtMs: Int64?
    public var isLive: Bool { unlinkedAtMs == nil }

    public init(idCode: UInt64, orgCode: String, keyIndex: UInt16, linkedAtMs: Int64, unlinkedAtMs: Int64? = nil) {
        self.idCode = idCode; self.orgCode = orgCode; self.keyIndex = keyIndex; self.linkedAtMs = linkedAtMs; self.unlinkedAtMs = unlinkedAtMs
    }
}

/// A link issued for a matching number, kept until the organisation acknowledges it.
public struct Issuance: Sendable, Equatable {
    public var matchingNumber: String
    public var link: Link
    public var expiresAtMs: Int64
    public var acknowledgedAtMs: Int64?

    public init(matchingNumber: String, link: Link, expiresAtMs: Int64, acknowledgedAtMs: Int64?) {
        self.matchingNumber = matchingNumber; self.link = link; self.expiresAtMs = expiresAtMs; self.acknowledgedAtMs = acknowledgedAtMs
    }
}

/// One chargeable operation's line in the fee ledger.
public struct FeeCharge: Sendable, Equatable {
    public enum Operation: String, Sendable, CaseIterable {
        case mediation, linkIssuance = "link_issuance", eventDelivery = "event_delivery"
    }
    public var payer: String
    public var operation: Operation
    /// What was charged for: a mediation id, a matching number, an event id.
    public var reference: String
    public var amountYen: Int64
    public var tariffID: String
    public var atMs: Int64

    public init(payer: String, operation: Operation, reference: String, amountYen: Int64, tariffID: String, atMs: Int64) {
        self.payer = payer; self.operation = operation; self.reference = reference
        self.amountYen = amountYen; self.tariffID = tariffID; self.atMs = atMs
    }
}

/// A statement line: the ledger rows of one operation at one tariff and unit price, summed.
public struct FeeLineTotal: Sendable, Equatable {
    public var operation: FeeCharge.Operation
    public var tariffID: String
    public var unitPriceYen: Int64
    public var count: UInt64
    public var amountYen: Int64

    public init(operation: FeeCharge.Operation, tariffID: String, unitPriceYen: Int64, count: UInt64, amountYen: Int64) {
        self.operation = operation; self.tariffID = tariffID; self.unitPriceYen = unitPriceYen; self.count = count; self.amountYen = amountYen
    }
}

/// A requester's idempotency key for one mediation (protocol.md §8), as the store keeps it: the
/// key, a digest of the request's identifying fields, and the start of the window it is valid in.
public struct MediationKey: Sendable, Equatable {
    public var requester: String
    public var key: String
    /// SHA-256 over the fields that make two requests the same request (never the query).
    public var fingerprint: [UInt8]
    /// Bindings made before this time are expired: the key is free again.
    public var notBeforeMs: Int64
    /// The time a binding made now is dated with (its window starts there); nil: the entry's time.
    /// The mediator reads both on a clock that a wall-clock step cannot make expire early
    /// (`StepSafeClock`; docs/reliability.md, "The clock jumps").
    public var boundAtMs: Int64?
    public init(requester: String, key: String, fingerprint: [UInt8], notBeforeMs: Int64, boundAtMs: Int64? = nil) {
        self.requester = requester; self.key = key; self.fingerprint = fingerprint; self.notBeforeMs = notBeforeMs
        self.boundAtMs = boundAtMs
    }
}

/// What a live key is bound to: the mediation it names and whether it was answered (charged).
public struct MediationKeyBinding: Sendable, Equatable {
    public var fingerprint: [UInt8]
    public var mediationID: String
    /// The access-log position of the entry the key was last logged as.
    public var position: UInt64
    public var answered: Bool

    public init(fingerprint: [UInt8], mediationID: String, position: UInt64, answered: Bool) {
        self.fingerprint = fingerprint; self.mediationID = mediationID; self.position = position; self.answered = answered
    }
}

/// How a mediation's decision was written.
public enum MediationWrite: Sendable, Equatable {
    /// A new access-log entry (and its fee, if one was due).
    case appended(ChainedRecord)
    /// An answered retry of an answered mediation: no new entry, no new fee; the entry at
    /// `position` counts one more repeat. `mediationID` is the one the key is bound to.
    case repeated(mediationID: String, position: UInt64)
    /// An unanswered retry of an answered mediation: nothing written (the entry stands as logged).
    case unchanged(mediationID: String)
}

/// An access-log entry with what is kept beside it outside the chained hash.
public struct LoggedAccess: Sendable, Equatable {
    public var chained: ChainedRecord
    /// Answered retries under the same idempotency key, relayed again, not charged again.
    public var repeats: UInt32
    public init(chained: ChainedRecord, repeats: UInt32) { self.chained = chained; self.repeats = repeats }
}

public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    case duplicate(String)
    case notFound(String)
    case matchingNumberRefused       // used for another resident or org, or expired
    case unavailable(String)
    /// A fault of the machine under the database (a full disk, an I/O error): writes are refused
    /// (UNAVAILABLE, retryable) and the node reports NOT READY. The text names the fault only.
    case refusingWrites(String)
    /// An idempotency key bound to a request with other identifying fields.
    case idempotencyKeyReused

    public var description: String {
        switch self {
        case let .duplicate(what): return "already exists: \(what)"
        case let .notFound(what): return "not found: \(what)"
        case .matchingNumberRefused: return "matching number refused"
        case let .unavailable(why): return "store unavailable: \(why)"
        case let .refusingWrites(why): return "store refuses writes: \(why)"
        case .idempotencyKeyReused: return "idempotency key reused for another request"
        }
    }
}
