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

    public init(linkCode: String, fromMs: Int64 = 0, toMs: Int64 = 0, pageSize: UInt32 = 0, pageToken: String = "") {
        self.linkCode = linkCode; self.fromMs = fromMs; self.toMs = toMs; self.pageSize = pageSize; self.pageToken = pageToken
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
}

public struct AccessLogPage: Sendable, Equatable {
    public var entries: [AccessLogEntry]
    /// Empty: no further page.
    public var nextPageToken: String
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
