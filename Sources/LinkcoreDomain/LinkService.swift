import Foundation
import LinkcoreLinkCodes
import LinkcoreStore

/// Issuing, checking and ending links (リンクコードの払い出し, steps 5-7 of the domain brief).
///
/// A link code is never stored: it is derived from (ID code, organisation, key index) by the
/// keyring whenever it is needed, and opened back to the ID code the same way.
public final class LinkService: Sendable {
    private let store: any CoreStore
    private let keyring: LinkCodeKeyring
    let hasher: ResidentHasher
    public let orgs: OrgDirectory
    private let tariff: any Tariff
    private let now: @Sendable () -> Int64

    /// The one reply for every unusable link code: forged, mistyped, foreign, unknown, unlinked.
    public static let invalidLinkCode = Refusal(.invalidLinkCode, "link code not valid for this organisation")

    public init(store: any CoreStore, keyring: LinkCodeKeyring, hasher: ResidentHasher, orgs: OrgDirectory,
                tariff: any Tariff = FreeTariff(),
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.store = store
        self.tariff = tariff
        self.keyring = keyring
        self.hasher = hasher
        self.orgs = orgs
        self.now = now
    }

    /// Matcher -> core: issue the organisation's link for a resident, durably, and return what
    /// the organisation must receive.
    public func issue(_ request: IssueLinkRequest) async -> Result<(created: Bool, issued: IssuedLink), Refusal> {
        guard request.residentCode.range(of: "^[0-9]{11}$", options: .regularExpression) != nil else {
            return .failure(Refusal(.invalidArgument, "resident_code must be 11 digits"))
        }
        guard !request.matchingNumber.isEmpty, request.matchingNumber.utf8.count <= 64 else {
            return .failure(Refusal(.invalidArgument, "matching_number must be 1-64 characters"))
        }
        guard let org = orgs[request.orgCode] else {
            return .failure(Refusal(.orgUnknown, "organisation \(request.orgCode) is not registered"))
        }
        guard !org.suspended else { return .failure(Refusal(.orgSuspended, "organisation \(org.code) is suspended")) }
        guard org.role != .matcher else {
            return .failure(Refusal(.invalidArgument, "the matching authority does not hold links"))
        }
        guard org.role != .cardAuthority else {
            return .failure(Refusal(.invalidArgument, "the card authority does not hold links"))
        }
        // The organisation that gets the link pays for it (charged only when a link is created).
        let at = now()
        let price: Price?
        switch await tariff.price(.linkIssuance, payer: org, bpID: "", atMs: at) {
        case let .success(found): price = found
        case let .failure(error): return .failure(Refusal(.policyFailure, "the tariff could not decide: \(error.message)", retryable: error.retryable))
        }
        do {
            let hash = try hasher.hash(residentCode: request.residentCode)
            let (issuance, created) = try await store.issueLink(
                residentHash: hash, orgCode: org.code, matchingNumber: request.matchingNumber,
                expiresAtMs: request.expiresAtMs, nowMs: at, newIDCode: { IDCode.random().rawValue },
                charge: price?.charge(payer: org.code, .linkIssuance, reference: request.matchingNumber, atMs: at))
            return .success((created, try linkIssued(issuance)))
        } catch StoreError.matchingNumberRefused {
            return .failure(Refusal(.invalidMatchingNumber, "matching number expired or already used"))
        } catch {
            return .failure(Refusal(.unavailable, "link issuance failed: \(error)"))
        }
    }

    func linkIssued(_ issuance: Issuance) throws -> IssuedLink {
        IssuedLink(matchingNumber: issuance.matchingNumber, linkCode: try code(for: issuance.link),
                   keyIndex: UInt32(issuance.link.keyIndex), linkedAtMs: issuance.link.linkedAtMs)
    }

    /// The organisation's own link code for a link.
    public func code(for link: Link) throws -> String {
        try keyring.issue(IDCode(rawValue: link.idCode), org: link.orgCode, keyIndex: KeyIndex(rawValue: link.keyIndex))
    }

    /// Organisation -> core: the link issued for one of its matching numbers.
    public func fetch(matchingNumber: String, orgCode: String) async -> Result<IssuedLink, Refusal> {
        let refused = Refusal(.invalidMatchingNumber, "no link for this matching number")
        do {
            guard let issuance = try await store.issuance(matchingNumber: matchingNumber),
                  issuance.link.orgCode == orgCode, issuance.link.isLive else { return .failure(refused) }
            return .success(try linkIssued(issuance))
        } catch {
            return .failure(Refusal(.unavailable, "store: \(error)"))
        }
    }

    public func acknowledge(matchingNumber: String, orgCode: String) async {
        try? await store.acknowledgeIssuance(matchingNumber: matchingNumber, orgCode: orgCode, nowMs: now())
    }

    /// Issued links the organisation has not acknowledged: delivered again when it reconnects.
    public func undelivered(orgCode: String, limit: Int = 1000) async -> [IssuedLink] {
        guard let pending = try? await store.unacknowledgedIssuances(orgCode: orgCode, limit: limit) else { return [] }
        return pending.compactMap { try? linkIssued($0) }
    }

    /// Steps 1-2 of a conversion: the live link this organisation's code stands for, or nil.
    /// Forged and foreign codes fail in the keyring, before any store lookup.
    public func open(_ code: String, orgCode: String) async throws -> Link? {
        guard let (id, keyIndex) = keyring.open(code, org: orgCode) else { return nil }
        guard let link = try await store.liveLink(idCode: id.rawValue, orgCode: orgCode), link.keyIndex == keyIndex.rawValue else {
            return nil
        }
        return link
    }

    /// When the link ended.
    public func unlink(code: String, orgCode: String) async -> Result<Int64, Refusal> {
        do {
            guard let link = try await open(code, orgCode: orgCode),
                  let ended = try await store.unlink(idCode: link.idCode, orgCode: orgCode, nowMs: now()) else {
                return .failure(Self.invalidLinkCode)
            }
            return .success(ended.unlinkedAtMs ?? now())
        } catch {
            return .failure(Refusal(.unavailable, "store: \(error)"))
        }
    }
}
