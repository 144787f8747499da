import Foundation
import LinkcoreAudit
import LinkcoreStore

/// The resident's view of the access log (自己情報の提供に関するログ), served to the portal only.
/// The portal names the resident by its own link code LP; entries are found by the ID code LP
/// opens to, so no request can reach another resident's entries.
public struct AccessLogService: Sendable {
    let store: any CoreStore
    let links: LinkService
    let now: @Sendable () -> Int64

    public static let defaultPageSize = 100
    public static let maxPageSize = 500

    public init(store: any CoreStore, links: LinkService,
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.store = store; self.links = links; self.now = now
    }

    public func page(_ query: AccessLogQuery, portal: String) async -> Result<AccessLogPage, Refusal> {
        guard links.orgs[portal]?.role == .portal else {
            return .failure(Refusal(.permissionDenied, "only the portal may read the access log"))
        }
        // The page token is the last position returned; it only narrows a query already bound to LP.
        var after: UInt64 = 0
        if !query.pageToken.isEmpty {
            guard let position = UInt64(query.pageToken) else { return .failure(Refusal(.invalidArgument, "page_token is not one this core issued")) }
            after = position
        }
        let size = query.pageSize == 0 ? Self.defaultPageSize : min(Int(query.pageSize), Self.maxPageSize)
        let to = query.toMs == 0 ? now() + 1 : query.toMs
        guard query.fromMs >= 0, to > query.fromMs else { return .failure(Refusal(.invalidArgument, "from_ms must be before to_ms")) }
        do {
            guard let lp = try await links.open(query.linkCode, orgCode: portal) else { return .failure(LinkService.invalidLinkCode) }
            // Newest first (the portal's page): the token is the last position shown, and the
            // next page is what lies before it; oldest first (the adapter's view): after it.
            let rows = query.newestFirst
                ? try await store.loggedAccessNewestFirst(idCode: lp.idCode, fromMs: query.fromMs, toMs: to, beforePosition: after, limit: size + 1)
                : try await store.loggedAccess(idCode: lp.idCode, fromMs: query.fromMs, toMs: to, afterPosition: after, limit: size + 1)
            let shown = Array(rows.prefix(size))
            // Each entry's predecessor is another resident's entry as often as not: its hash
            // (never its fields) is what lets a reader recompute this entry's link of the chain.
            let previous = try await store.accessHashes(positions: shown.map { $0.chained.position - 1 })
            let entries = shown.map { row in
                var e = entry(row.chained.record, repeats: row.repeats)
                e.position = row.chained.position
                e.hash = row.chained.hash
                e.previousHash = row.chained.position == 1 ? AccessChain.genesis : previous[row.chained.position - 1] ?? []
                return e
            }
            let next = rows.count > size ? shown.last.map { String($0.chained.position) } : nil
            let checkpoint = try await store.newestCheckpoint()
            var page = AccessLogPage(entries: entries, nextPageToken: next ?? "", checkpoint: checkpoint)
            try await addProofs(to: &page, rows: shown)
            return .success(page)
        } catch {
            return .failure(Refusal(.unavailable, "store: \(error)", retryable: true))
        }
    }

    /// The organisations holding a live link for the resident the portal names by LP (issue 15
    /// item 3): names and link dates, never the codes; the portal's own link is left out.
    public func linkHolders(linkCode: String, portal: String) async -> Result<[LinkHolder], Refusal> {
        guard links.orgs[portal]?.role == .portal else {
            return .failure(Refusal(.permissionDenied, "only the portal may list a resident's link holders"))
        }
        do {
            guard let lp = try await links.open(linkCode, orgCode: portal) else { return .failure(LinkService.invalidLinkCode) }
            var holders: [LinkHolder] = []
            // The directory is small (organisations, not residents): one indexed lookup each.
            for org in links.orgs.all where org.code != portal {
                if let link = try await store.liveLink(idCode: lp.idCode, orgCode: org.code) {
                    holders.append(LinkHolder(orgCode: org.code, orgName: org.name, linkedAtMs: link.linkedAtMs))
                }
            }
            return .success(holders.sorted { ($0.linkedAtMs, $0.orgCode) < ($1.linkedAtMs, $1.orgCode) })
        } catch {
            return .failure(Refusal(.unavailable, "store: \(error)", retryable: true))
        }
    }

    func entry(_ r: AccessRecord, repeats: UInt32) -> AccessLogEntry {
        AccessLogEntry(mediationID: r.mediationID, atMs: r.atMs, requesterOrg: r.requester, requesterName: links.orgs[r.requester]?.name ?? "",
                       providerOrg: r.provider, providerName: links.orgs[r.provider]?.name ?? "", bpID: r.bpID, infoType: r.infoType,
                       outcome: r.outcome, repeats: repeats)
    }
}
