import LinkcoreAudit
import LinkcoreStore

/// The portal's query for a resident's access-log entries (by the portal's own link code LP).
public struct AccessLogQuery: Sendable, Equatable {
    public var linkCode: String
    public var fromMs: Int64
    /// 0: now.
    public var toMs: Int64
    /// 0: the default page size.
    public var pageSize: UInt32
    /// Empty: the first page.
    public var pageToken: String
    /// The portal's page lists newest first; the adapter's view reads oldest first.
    public var newestFirst: Bool

    public init(linkCode: String, fromMs: Int64 = 0, toMs: Int64 = 0, pageSize: UInt32 = 0, pageToken: String = "",
                newestFirst: Bool = false) {
        self.linkCode = linkCode; self.fromMs = fromMs; self.toMs = toMs; self.pageSize = pageSize; self.pageToken = pageToken
        self.newestFirst = newestFirst
    }
}

public struct AccessLogEntry: Sendable, Equatable {
    public var mediationID: String
    public var atMs: Int64
    public var requesterOrg: String
    public var requesterName: String
    public var providerOrg: String
    public var providerName: String
    public var bpID: String
    public var infoType: String
    public var outcome: AccessOutcome
    /// Answered retries counted on this entry.
    public var repeats: UInt32
    /// Where the entry sits in the whole chain, its hash and its predecessor's (issue 15 item 3).
    public var position: UInt64 = 0
    public var hash: [UInt8] = []
    public var previousHash: [UInt8] = []
    /// v2 (AccessLeaf): the resident digest (empty for a v1 entry), the Merkle leaf hash, and the
    /// audit path to the page's tree head (empty when the entry is newer than the head).
    public var residentDigest: [UInt8] = []
    public var leafHash: [UInt8] = []
    public var inclusionProof: [[UInt8]] = []
}

public struct AccessLogPage: Sendable, Equatable {
    public var entries: [AccessLogEntry]
    /// Empty: no further page.
    public var nextPageToken: String
    /// The newest signed checkpoint of the whole log, if any.
    public var checkpoint: AuditCheckpoint? = nil
    /// The newest signed tree head, which every entry's inclusion proof leads to.
    public var treeHead: SignedTreeHead? = nil
}

/// An organisation holding a live link for the resident (never the code).
public struct LinkHolder: Sendable, Equatable {
    public var orgCode: String
    public var orgName: String
    public var linkedAtMs: Int64
}

/// One organisation's monthly statement: the ledger summed per operation and tariff.
public struct FeeStatement: Sendable, Equatable {
    public var orgCode: String
    public var orgName: String
    public var period: String
    public var lines: [FeeLineTotal]
    public var totalYen: Int64
    public var ledgerEntries: UInt64
}
