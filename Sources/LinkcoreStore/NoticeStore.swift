import LinkcoreAudit

/// The notice side of the core's store (issue 15, item 4): the outbox of notices waiting for the
/// portal's acknowledgement. Like `CoreStore`, every method that changes state returns only once
/// the change is durable.
public protocol NoticeStore: Sendable {
    /// The notice a sender's idempotency key already names, if any.
    func notice(sender: String, key: String) async throws -> StoredNotice?
    /// Writes the notice and its access-log entry in one durable write. If the sender's key was
    /// bound meanwhile, writes nothing and returns the notice it names (`written` false).
    func queueNotice(_ notice: StoredNotice, access: AccessRecord) async throws -> (notice: StoredNotice, written: Bool)
    /// The portal's unacknowledged notices whose resident it still has a live link to, in the
    /// order they were accepted, after `afterSeq`, with that link's key index.
    func pendingNotices(portal: String, afterSeq: Int64, limit: Int) async throws -> [PendingNotice]
    /// Marks one of the portal's notices delivered (and forgets its text); false if it was not
    /// pending for that portal.
    func acknowledgeNotice(portal: String, noticeID: String, nowMs: Int64) async throws -> Bool
    /// (accepted, delivered) over the whole outbox.
    func noticeCounts() async throws -> (queued: UInt64, delivered: UInt64)
}

/// One notice as the core keeps it.
public struct StoredNotice: Sendable, Equatable {
    public var noticeID: String
    public var sender: String
    public var idempotencyKey: String
    /// SHA-256 over the fields that make a repeat the same notice.
    public var fingerprint: [UInt8]
    public var portal: String
    public var idCode: UInt64
    public var noticeType: String
    public var title: String
    public var body: String
    public var sentAtMs: Int64
    public var deliveredAtMs: Int64?

    public init(noticeID: String, sender: String, idempotencyKey: String, fingerprint: [UInt8], portal: String, idCode: UInt64,
                noticeType: String, title: String, body: String, sentAtMs: Int64, deliveredAtMs: Int64? = nil) {
        self.noticeID = noticeID; self.sender = sender; self.idempotencyKey = idempotencyKey; self.fingerprint = fingerprint
        self.portal = portal; self.idCode = idCode; self.noticeType = noticeType; self.title = title; self.body = body
        self.sentAtMs = sentAtMs; self.deliveredAtMs = deliveredAtMs
    }
}

/// A notice ready to push, with its place in the outbox and the key index of the portal's live link.
public struct PendingNotice: Sendable, Equatable {
    public var seq: Int64
    public var notice: StoredNotice
    public var keyIndex: UInt16

    public init(seq: Int64, notice: StoredNotice, keyIndex: UInt16) {
        self.seq = seq; self.notice = notice; self.keyIndex = keyIndex
    }
}
