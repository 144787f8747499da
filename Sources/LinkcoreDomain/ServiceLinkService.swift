import Foundation
import LinkcoreAudit
import LinkcoreShapes
import LinkcoreStore

/// Signing in to an organisation's service through the portal (認証連携, issue 15 item 6): the
/// portal, an OpenID Connect provider, gives a relying party that is a network organisation its
/// OWN link code for the resident as the ID token's `sub`. The portal asks here, with LP and the
/// organisation's code, after the resident consented on its consent page. The core opens LP,
/// finds or creates the organisation's live link for the same resident (as a matcher-issued link
/// would be, under the organisation's current key index), writes the access-log entry the
/// resident reads ("SIGNIN": requester = the organisation, provider = the portal), and returns the
/// organisation's link code.
///
/// Permitted only by a whitelist row with BP-ID `SIGNIN`, the organisation as requester, the
/// portal as provider and info type `link_code`: issuing a link without the matching authority is
/// a power the operator grants per organisation, like every other exchange.
public final class ServiceLinkService: Sendable {
    private let store: any CoreStore
    private let links: LinkService
    private let whitelist: any Whitelist
    private let tariff: any Tariff
    private let now: @Sendable () -> Int64

    public static let bpID = "SIGNIN"
    public static let infoType = "link_code"
    public static let notPermitted = Refusal(.notPermitted, "the whitelist does not permit sign-in links for this organisation")

    public init(store: any CoreStore, links: LinkService, whitelist: any Whitelist, tariff: any Tariff = FreeTariff(),
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.store = store; self.links = links; self.whitelist = whitelist; self.tariff = tariff; self.now = now
    }

    /// `portal` is the caller's organisation code (role PORTAL, checked by the daemon).
    public func link(lp: String, orgCode: String, portal: String) async -> Result<ServiceLink, Refusal> {
        if let problem = IdentifierShape.orgCode.problem(orgCode) { return .failure(Refusal(.invalidArgument, "org_code \(problem)")) }
        guard !lp.isEmpty, lp.utf8.count <= 64 else { return .failure(Refusal(.invalidArgument, "lp_link_code must be 1-64 bytes")) }
        guard let p = links.orgs[portal], p.role == .portal else {
            return .failure(Refusal(.permissionDenied, "only the portal asks for sign-in links"))
        }
        guard let org = links.orgs[orgCode] else { return .failure(Refusal(.orgUnknown, "organisation \(orgCode) is not registered")) }
        guard !org.suspended else { return .failure(Refusal(.orgSuspended, "organisation \(org.code) is suspended")) }
        guard org.role == .agency || org.role == .privateConnector else {
            return .failure(Refusal(.invalidArgument, "only agencies and private connectors receive sign-in links"))
        }
        do {
            // LP first, before any policy module sees the request: a forged, foreign or unlinked LP
            // gets the one INVALID_LINK_CODE refusal of every other request.
            guard let lpLink = try await links.open(lp, orgCode: p.code) else { return .failure(LinkService.invalidLinkCode) }
            let at = now()
            switch await whitelist.decide(WhitelistQuery(bpID: Self.bpID, requester: org.ref, provider: p.ref, infoType: Self.infoType, atMs: at)) {
            case let .success(decision) where decision.permitted: break
            case .success: return .failure(Self.notPermitted)
            case let .failure(error):
                return .failure(Refusal(.policyFailure, "the whitelist could not decide: \(error.message)", retryable: error.retryable))
            }
            let entryID = Self.newEntryID()
            // A link made here is charged as any link issuance (to the organisation that gets it).
            let price: Price?
            switch await tariff.price(.linkIssuance, payer: org, bpID: Self.bpID, atMs: at) {
            case let .success(found): price = found
            case let .failure(error): return .failure(Refusal(.policyFailure, "the tariff could not decide: \(error.message)", retryable: error.retryable))
            }
            let access = AccessRecord(mediationID: entryID, idCode: lpLink.idCode, atMs: at, requester: org.code, provider: p.code,
                                      bpID: Self.bpID, infoType: Self.infoType, outcome: .answered,
                                      residentDigest: try links.accessDigest(lpLink.idCode))
            let (link, created) = try await store.serviceLink(
                idCode: lpLink.idCode, orgCode: org.code, nowMs: at, access: access,
                charge: price?.charge(payer: org.code, .linkIssuance, reference: entryID, atMs: at))
            return .success(ServiceLink(linkCode: try links.code(for: link), created: created, linkedAtMs: link.linkedAtMs))
        } catch {
            return .failure(Refusal(.unavailable, "the sign-in link could not be made: \(error)", retryable: true))
        }
    }

    /// "sg-" + 128 random bits: the access-log entry's id (and the fee's reference).
    static func newEntryID() -> String {
        var generator = SystemRandomNumberGenerator()
        return "sg-" + (0..<2).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}

/// Core -> portal: the organisation's own link code for the resident.
public struct ServiceLink: Sendable, Equatable {
    public var linkCode: String
    public var created: Bool
    public var linkedAtMs: Int64
}
