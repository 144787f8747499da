/// Rows of the core's store, as the domain sees them. Nothing here can hold the four basic
/// facts or a resident code in clear: residents are known by a keyed hash and an ID code.

public enum OrgSector: Int, Sendable, Codable { case publicBody = 1, privateSector = 2 }
public enum OrgRole: Int, Sendable, Codable { case agency = 1, privateConnector = 2, matcher = 3, portal = 4 }

public struct Organisation: Sendable, Equatable {
    public var code: String
    public var name: String
    public var sector: OrgSector
    public var role: OrgRole
    public var suspended: Bool
    /// The key index new links of this organisation use.
    public var keyIndex: UInt16
    public var createdAtMs: Int64

    public init(code: String, name: String, sector: OrgSector, role: OrgRole, suspended: Bool = false, keyIndex: UInt16 = 1, createdAtMs: Int64) {
        self.code = code; self.name = name; self.sector = sector; self.role = role
        self.suspended = suspended; self.keyIndex = keyIndex; self.createdAtMs = createdAtMs
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
}

/// A link issued for a matching number, kept until the organisation acknowledges it.
public struct Issuance: Sendable, Equatable {
    public var matchingNumber: String
    public var link: Link
    public var expiresAtMs: Int64
    public var acknowledgedAtMs: Int64?
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
}

public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    case duplicate(String)
    case notFound(String)
    case matchingNumberRefused       // used for another resident or org, or expired
    case unavailable(String)

    public var description: String {
        switch self {
        case let .duplicate(what): return "already exists: \(what)"
        case let .notFound(what): return "not found: \(what)"
        case .matchingNumberRefused: return "matching number refused"
        case let .unavailable(why): return "store unavailable: \(why)"
        }
    }
}
