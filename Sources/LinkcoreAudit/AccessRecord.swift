/// One entry of the resident's access log (自己情報の提供に関するログ): who asked whom for what
/// about the resident with this ID code, and what came of it. Never a payload.
public struct AccessRecord: Sendable, Equatable {
    public var mediationID: String
    /// The resident's ID code: the log is keyed by it so the portal can show a resident's entries.
    public var idCode: UInt64
    public var atMs: Int64
    public var requester: String
    public var provider: String
    public var bpID: String
    public var infoType: String
    public var outcome: AccessOutcome
    /// The v2 format's keyed digest of the ID code (``AccessLeaf``); nil for a v1 entry.
    public var residentDigest: [UInt8]?

    public init(mediationID: String, idCode: UInt64, atMs: Int64, requester: String, provider: String,
                bpID: String, infoType: String, outcome: AccessOutcome, residentDigest: [UInt8]? = nil) {
        self.mediationID = mediationID; self.idCode = idCode; self.atMs = atMs; self.requester = requester
        self.provider = provider; self.bpID = bpID; self.infoType = infoType; self.outcome = outcome
        self.residentDigest = residentDigest
    }
}

/// The decision recorded. Raw values are the wire's `Outcome` numbers (common.proto).
public enum AccessOutcome: Int, Sendable, CaseIterable {
    case answered = 1
    case refusedByWhitelist = 2
    case invalidLink = 3
    case providerUnavailable = 4
    case providerRefused = 5
    case timedOut = 6
    case policyFailed = 7
}

/// An entry as stored: its 1-based position in the log and the chain hash that seals it.
public struct ChainedRecord: Sendable, Equatable {
    public var position: UInt64
    public var record: AccessRecord
    public var hash: [UInt8]

    public init(position: UInt64, record: AccessRecord, hash: [UInt8]) {
        self.position = position; self.record = record; self.hash = hash
    }
}

/// A signature by the core's key over (position, hash, time): it pins the chain up to
/// `position`, so an attacker who rewrites the chain from some entry onwards (recomputing every
/// later hash) is still caught. The signer's certificate travels with it, so checkpoints stay
/// verifiable after the core's certificate is renewed.
public struct AuditCheckpoint: Sendable, Equatable {
    public var position: UInt64
    public var hash: [UInt8]
    public var atMs: Int64
    public var signature: [UInt8]
    /// The signer's certificate, PEM.
    public var certificate: [UInt8]

    public init(position: UInt64, hash: [UInt8], atMs: Int64, signature: [UInt8], certificate: [UInt8]) {
        self.position = position; self.hash = hash; self.atMs = atMs; self.signature = signature
        self.certificate = certificate
    }

    /// The bytes signed.
    public static func signedBytes(position: UInt64, hash: [UInt8], atMs: Int64) -> [UInt8] {
        var bytes = Array("linkcore/access-log-checkpoint/v1".utf8)
        withUnsafeBytes(of: position.bigEndian) { bytes += $0 }
        bytes += hash
        withUnsafeBytes(of: UInt64(bitPattern: atMs).bigEndian) { bytes += $0 }
        return bytes
    }
}
