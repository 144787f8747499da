import LinkcoreWire

/// The portal's end of notice delivery (issue 15, item 4): answers the core's `deliver_notice`
/// with `deliver_notice_ack` only once the notice is stored durably, so an ack is the core's
/// licence to forget the notice's text. The portal gives the store (its folder); a store that
/// throws gets no ack, and the core pushes the notice again later (at least once: the store
/// must drop a notice id it already holds and still return normally).
///
/// Use it as (part of) the `IncomingRequestHandler` of a connection whose Hello says
/// `accepts_pushes: true`:
///
///     let receiver = NoticeReceiver { notice in try await folder.keep(notice) }
///     LinkcoreConnection.connect(..., incoming: { request in
///         await receiver.handle(request) ?? .failure(WireError(.unknownMessage, "not served"))
///     })
public struct NoticeReceiver: Sendable {
    public typealias Store = @Sendable (ReceivedNotice) async throws -> Void
    private let store: Store

    public init(store: @escaping Store) { self.store = store }

    /// The reply to a `deliver_notice`; nil for any other body (someone else answers it).
    public func handle(_ request: LCEnvelope) async -> Result<LCEnvelope.OneOf_Body, WireError>? {
        guard case let .deliverNotice(delivery)? = request.body else { return nil }
        guard let notice = ReceivedNotice(delivery) else {
            // Not stored, not acknowledged: a core that sends this is broken; say so to it.
            return .failure(WireError(.invalidArgument, "deliver_notice is missing a notice id, link code or text"))
        }
        do {
            try await store(notice)
            return .success(.deliverNoticeAck(LCDeliverNoticeAck()))
        } catch {
            return .failure(WireError(.unavailable, "the portal cannot store the notice now"))
        }
    }
}

/// A notice as the portal receives it: addressed to the resident the portal knows as `linkCode` (LP).
public struct ReceivedNotice: Sendable, Equatable {
    public var noticeID: String
    public var linkCode: String
    public var senderOrg: String
    public var senderName: String
    public var noticeType: String
    public var title: String
    public var body: String
    public var sentAtMs: Int64

    /// Nil when a required field is empty.
    public init?(_ d: LCDeliverNotice) {
        guard !d.noticeID.isEmpty, !d.linkCode.isEmpty, !d.senderOrg.isEmpty, !d.noticeType.isEmpty,
              !d.title.isEmpty, !d.body.isEmpty else { return nil }
        noticeID = d.noticeID; linkCode = d.linkCode; senderOrg = d.senderOrg; senderName = d.senderName
        noticeType = d.noticeType; title = d.title; body = d.body; sentAtMs = d.sentAtMs
    }
}
