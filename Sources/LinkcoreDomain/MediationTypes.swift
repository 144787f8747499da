import Foundation
import LinkcoreStore

/// Requester A's request for information (protocol.md §8), as the mediator sees it.
public struct MediationRequest: Sendable, Equatable {
    public var bpID: String
    public var providerOrg: String
    public var infoType: String
    /// A's own link code for the resident (LA).
    public var linkCode: String
    public var query: Data
    /// 0: the core's default.
    public var deadlineMs: UInt32
    /// Empty: none.
    public var idempotencyKey: String

    public init(bpID: String = "", providerOrg: String = "", infoType: String = "", linkCode: String = "", query: Data = Data(),
                deadlineMs: UInt32 = 0, idempotencyKey: String = "") {
        self.bpID = bpID; self.providerOrg = providerOrg; self.infoType = infoType; self.linkCode = linkCode
        self.query = query; self.deadlineMs = deadlineMs; self.idempotencyKey = idempotencyKey
    }
}

/// What A receives when B answered.
public struct MediationAnswer: Sendable, Equatable {
    public var mediationID: String
    public var answer: Data
    /// A retry under an idempotency key of a mediation already answered.
    public var repeated: Bool

    public init(mediationID: String, answer: Data, repeated: Bool = false) {
        self.mediationID = mediationID; self.answer = answer; self.repeated = repeated
    }
}

/// What the core asks provider B, under B's own link code for the resident (LB).
public struct ProvideRequest: Sendable, Equatable {
    public var mediationID: String
    public var bpID: String
    public var requesterOrg: String
    public var linkCode: String
    public var infoType: String
    public var query: Data
    public var deadlineAtMs: Int64

    public init(mediationID: String, bpID: String, requesterOrg: String, linkCode: String, infoType: String, query: Data, deadlineAtMs: Int64) {
        self.mediationID = mediationID; self.bpID = bpID; self.requesterOrg = requesterOrg; self.linkCode = linkCode
        self.infoType = infoType; self.query = query; self.deadlineAtMs = deadlineAtMs
    }
}

/// An organisation as a policy sees it: its code, and the sector and role the operator registered.
public struct OrgRef: Sendable, Equatable {
    public var code: String
    public var sector: OrgSector
    public var role: OrgRole

    public init(code: String, sector: OrgSector, role: OrgRole) { self.code = code; self.sector = sector; self.role = role }
}

extension Organisation {
    public var ref: OrgRef { OrgRef(code: code, sector: sector, role: role) }
}

/// May this BP-ID let the requester ask the provider for this information type at `atMs`?
public struct WhitelistQuery: Sendable, Equatable {
    public var bpID: String
    public var requester: OrgRef
    public var provider: OrgRef
    public var infoType: String
    public var atMs: Int64

    public init(bpID: String, requester: OrgRef, provider: OrgRef, infoType: String, atMs: Int64) {
        self.bpID = bpID; self.requester = requester; self.provider = provider; self.infoType = infoType; self.atMs = atMs
    }
}

public struct WhitelistDecision: Sendable, Equatable {
    public var permitted: Bool
    /// The row that permitted it.
    public var ruleID: String
    /// Why not, when refused.
    public var reason: String

    public init(permitted: Bool, ruleID: String = "", reason: String = "") {
        self.permitted = permitted; self.ruleID = ruleID; self.reason = reason
    }
}
