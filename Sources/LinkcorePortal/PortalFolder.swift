import Foundation
import LinkcoreClient

/// The resident's folder (お知らせ, 情報の一時保持) as the core fills it: a delivered notice is
/// stored (durably, deduplicated by id) with its expiry from the retention of its type, and only
/// then acknowledged (``NoticeReceiver``). Expired notices are purged as new ones arrive and when
/// a folder page is opened, so no timer is needed.
public struct PortalFolder: Sendable {
    public let store: PortalStore
    /// Notice type -> days kept (0: until deleted).
    public let retentionDays: @Sendable (String) -> Int
    public let now: @Sendable () -> Int64

    public init(store: PortalStore, retentionDays: @escaping @Sendable (String) -> Int,
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.store = store; self.retentionDays = retentionDays; self.now = now
    }

    /// Keeps a delivered notice; throws (so no ack) when the file cannot take it.
    public func keep(_ notice: ReceivedNotice) async throws {
        let received = now()
        let days = retentionDays(notice.noticeType)
        try await store.storeNotice(.init(
            noticeID: notice.noticeID, lpLinkCode: notice.linkCode, senderOrg: notice.senderOrg, noticeType: notice.noticeType,
            title: notice.title, body: notice.body, sentAtMs: notice.sentAtMs, receivedAtMs: received,
            expiresAtMs: days > 0 ? received + Int64(days) * 86_400_000 : nil, senderName: notice.senderName))
        try await store.purgeExpiredNotices(nowMs: received)
    }
}
