import LinkcoreStore

/// Matcher → core: issue the organisation's link for a resident.
public struct IssueLinkRequest: Sendable, Equatable {
    public var residentCode: String
    public var orgCode: String
    public var matchingNumber: String
    public var expiresAtMs: Int64

    public init(residentCode: String, orgCode: String, matchingNumber: String, expiresAtMs: Int64) {
        self.residentCode = residentCode; self.orgCode = orgCode; self.matchingNumber = matchingNumber; self.expiresAtMs = expiresAtMs
    }
}

/// What the organisation receives for one of its matching numbers.
public struct IssuedLink: Sendable, Equatable {
    public var matchingNumber: String
    public var linkCode: String
    public var keyIndex: UInt32
    public var linkedAtMs: Int64

    public init(matchingNumber: String, linkCode: String, keyIndex: UInt32, linkedAtMs: Int64) {
        self.matchingNumber = matchingNumber; self.linkCode = linkCode; self.keyIndex = keyIndex; self.linkedAtMs = linkedAtMs
    }
}

/// An organisation the operator registers. Sector and role are nil when the request named none
/// the core knows (refused with a clear message).
public struct NewOrganisation: Sendable, Equatable {
    public var code: String
    public var name: String
    public var sector: OrgSector?
    public var role: OrgRole?
    /// Registered as a licensed verifier from the start (`linkctl org add --licensed-verifier`).
    public var licensedVerifier: Bool

    public init(code: String, name: String, sector: OrgSector?, role: OrgRole?, licensedVerifier: Bool = false) {
        self.code = code; self.name = name; self.sector = sector; self.role = role; self.licensedVerifier = licensedVerifier
    }
}
