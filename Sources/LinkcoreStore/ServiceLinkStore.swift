import LinkcoreAudit

/// Links made when a resident signs in to an organisation's service through the portal
/// (issue 15, item 6): the organisation's live link for a resident the core already knows (by ID
/// code, opened from the portal's LP), made with the access-log entry that tells the resident.
/// A protocol of its own (as `NoticeStore`), so that an engine without it still builds.
public protocol ServiceLinkStore: Sendable {
    /// Finds or creates the organisation's live link for the resident with this ID code, and
    /// appends `access` (and `charge`, when a link is created and a charge is given) in the same
    /// durable write. Throws `StoreError.notFound` for an unknown organisation.
    func serviceLink(idCode: UInt64, orgCode: String, nowMs: Int64, access: AccessRecord,
                     charge: FeeCharge?) async throws -> (link: Link, created: Bool)
}
