import Foundation
import LinkcoreAudit
import LinkcoreShapes
import LinkcoreStore

/// Notices to residents (お知らせ, issue 15 item 4): an organisation sends a notice under its own
/// link code LA; the core checks it, asks the whitelist, converts LA to the portal's link LP,
/// writes the notice to the outbox and its access-log entry in one durable write, and then
/// replies. Delivery to the portal is the dispatcher's (at least once, by notice id).
///
/// The whitelist sees a notice as an exchange with BP-ID `NOTICE`, the sender as requester, the
/// portal organisation as provider and the notice type as the information type: a row naming
/// those permits it (docs/protocol.md §14). A mediation can never use such a row: the portal
/// cannot be a mediation's provider.
public final class NoticeService: Sendable {
    private let store: any NoticeStore & CoreStore
    private let links: LinkService
    private let whitelist: any Whitelist
    private let now: @Sendable () -> Int64

    /// The BP-ID under which the whitelist decides notices, and the access log records them.
    public static let bpID = "NOTICE"
    public static let maxTitleBytes = 200
    public static let maxBodyBytes = 8192

    public init(store: any NoticeStore & CoreStore, links: LinkService, whitelist: any Whitelist,
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.store = store; self.links = links; self.whitelist = whitelist; self.now = now
    }

    public static let notPermitted = Refusal(.notPermitted, "the whitelist does not permit this notice type from this organisation")
    public static let keyReused = Refusal(.invalidArgument, "idempotency key reused for another notice")
    static let noPortal = Refusal(.unavailable, "no portal organisation is registered, or it is suspended", retryable: false)

    /// The portal organisation notices go to: the registered organisation with the role PORTAL
    /// (the first by code if an operator registered several).
    public var portal: Organisation? { links.orgs.all.first { $0.role == .portal } }

    public func send(_ request: NoticeRequest, sender: String) async -> Result<NoticeReceipt, Refusal> {
        if let problem = Self.validate(request) { return .failure(problem) }
        guard let a = links.orgs[sender], a.role == .agency || a.role == .privateConnector else {
            return .failure(Refusal(.permissionDenied, "only agencies and private connectors may send notices"))
        }
        guard !a.suspended else { return .failure(Refusal(.orgSuspended, "organisation \(a.code) is suspended")) }
        let fingerprint = Self.fingerprint(request)
        do {
            // A repeat is answered from the outbox before anything else is decided.
            if let bound = try await store.notice(sender: sender, key: request.idempotencyKey) {
                return Self.receipt(bound, fingerprint: fingerprint, repeated: true)
            }
            // LA first, before any policy module sees the request: a forged, foreign or unlinked
            // code gets the one INVALID_LINK_CODE refusal of every other request.
            guard let la = try await links.open(request.linkCode, orgCode: sender) else { return .failure(LinkService.invalidLinkCode) }
            guard let p = portal, !p.suspended else { return .failure(Self.noPortal) }
            let at = now()
            switch await whitelist.decide(WhitelistQuery(bpID: Self.bpID, requester: a.ref, provider: p.ref, infoType: request.noticeType, atMs: at)) {
            case let .success(decision) where decision.permitted: break
            case .success: return .failure(Self.notPermitted)
            case let .failure(error):
                return .failure(Refusal(.policyFailure, "the whitelist could not decide: \(error.message)", retryable: error.retryable))
            }
            // The resident has no portal link (no account): the same refusal as a code that opens
            // to nothing, so the reply says nothing more than "not deliverable under this code".
            guard try await store.liveLink(idCode: la.idCode, orgCode: p.code) != nil else { return .failure(LinkService.invalidLinkCode) }
            let notice = StoredNotice(noticeID: Self.newNoticeID(), sender: sender, idempotencyKey: request.idempotencyKey,
                                      fingerprint: fingerprint, portal: p.code, idCode: la.idCode, noticeType: request.noticeType,
                                      title: request.title, body: request.body, sentAtMs: at)
            let access = AccessRecord(mediationID: notice.noticeID, idCode: la.idCode, atMs: at, requester: sender, provider: p.code,
                                      bpID: Self.bpID, infoType: request.noticeType, outcome: .answered,
                                      residentDigest: try links.accessDigest(la.idCode))
            let (stored, written) = try await store.queueNotice(notice, access: access)
            return Self.receipt(stored, fingerprint: fingerprint, repeated: !written)
        } catch {
            return .failure(Refusal(.unavailable, "the notice could not be stored; nothing was sent", retryable: true))
        }
    }

    static func receipt(_ notice: StoredNotice, fingerprint: [UInt8], repeated: Bool) -> Result<NoticeReceipt, Refusal> {
        guard notice.fingerprint == fingerprint else { return .failure(keyReused) }
        return .success(NoticeReceipt(noticeID: notice.noticeID, repeated: repeated, sentAtMs: notice.sentAtMs, portal: notice.portal))
    }

    static func validate(_ r: NoticeRequest) -> Refusal? {
        if let p = IdentifierShape.token.problem(r.noticeType) { return Refusal(.invalidArgument, "notice_type \(p)") }
        if let p = IdentifierShape.idempotencyKey.problem(r.idempotencyKey) { return Refusal(.invalidArgument, "idempotency_key \(p)") }
        if r.linkCode.isEmpty || r.linkCode.utf8.count > 64 { return Refusal(.invalidArgument, "link_code must be 1-64 bytes") }
        if r.title.isEmpty || r.title.utf8.count > maxTitleBytes { return Refusal(.invalidArgument, "title must be 1-\(maxTitleBytes) bytes") }
        if r.body.isEmpty || r.body.utf8.count > maxBodyBytes { return Refusal(.invalidArgument, "body must be 1-\(maxBodyBytes) bytes") }
        // Control characters would let a sender forge lines in whatever shows the text.
        if r.title.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return Refusal(.invalidArgument, "title must not contain control characters")
        }
        if r.body.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\n" && $0 != "\t" }) {
            return Refusal(.invalidArgument, "body must not contain control characters other than LF and TAB")
        }
        return nil
    }

    /// What makes a repeat the same notice (LA, type, title, body), each length-prefixed.
    static func fingerprint(_ r: NoticeRequest) -> [UInt8] {
        var bytes: [UInt8] = []
        for field in [r.linkCode, r.noticeType, r.title, r.body] {
            let utf8 = Array(field.utf8)
            bytes += withUnsafeBytes(of: UInt32(utf8.count).bigEndian, Array.init) + utf8
        }
        return AccessChain.sha256(bytes)
    }

    /// 128 random bits.
    static func newNoticeID() -> String {
        var generator = SystemRandomNumberGenerator()
        return "nt-" + (0..<2).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// The portal's notices still to deliver, after `afterSeq`, each addressed by LP (derived now
    /// from its live link).
    public func pending(portal: String, afterSeq: Int64, limit: Int) async -> Result<[(seq: Int64, notice: NoticeDelivery)], Refusal> {
        do {
            let rows = try await store.pendingNotices(portal: portal, afterSeq: afterSeq, limit: max(limit, 1))
            return .success(try rows.map { row in
                let n = row.notice
                let lp = try links.code(for: Link(idCode: n.idCode, orgCode: portal, keyIndex: row.keyIndex, linkedAtMs: 0))
                return (row.seq, NoticeDelivery(noticeID: n.noticeID, linkCode: lp, senderOrg: n.sender,
                                                senderName: links.orgs[n.sender]?.name ?? "", noticeType: n.noticeType,
                                                title: n.title, body: n.body, sentAtMs: n.sentAtMs))
            })
        } catch {
            return .failure(Refusal(.unavailable, "notices: \(error)"))
        }
    }

    /// The portal acknowledged a notice: delivered, its text forgotten by the core.
    public func acknowledge(portal: String, noticeID: String) async -> Result<Bool, Refusal> {
        do {
            return .success(try await store.acknowledgeNotice(portal: portal, noticeID: noticeID, nowMs: now()))
        } catch {
            return .failure(Refusal(.unavailable, "notices: \(error)"))
        }
    }
}

/// Organisation -> core: SendNotice, in the domain's terms.
public struct NoticeRequest: Sendable, Equatable {
    public var linkCode: String
    public var noticeType: String
    public var title: String
    public var body: String
    public var idempotencyKey: String
    public init(linkCode: String, noticeType: String, title: String, body: String, idempotencyKey: String) {
        self.linkCode = linkCode; self.noticeType = noticeType; self.title = title; self.body = body; self.idempotencyKey = idempotencyKey
    }
}

public struct NoticeReceipt: Sendable, Equatable {
    public var noticeID: String
    public var repeated: Bool
    public var sentAtMs: Int64
    /// The portal it goes to (for the dispatcher's kick).
    public var portal: String
}

/// Core -> portal: DeliverNotice, in the domain's terms.
public struct NoticeDelivery: Sendable, Equatable {
    public var noticeID: String
    public var linkCode: String
    public var senderOrg: String
    public var senderName: String
    public var noticeType: String
    public var title: String
    public var body: String
    public var sentAtMs: Int64
}
