import Foundation
import LinkcoreWire

/// The residents' portal's view of the access log, for an adapter run by the portal (role
/// portal): the core serves `access_log_query` to that role only and refuses every other.
extension AdapterService {
    public struct AccessLogEntry: Sendable, Encodable {
        public var mediationID: String
        public var atMs: Int64
        public var requesterOrg: String
        public var requesterName: String
        public var providerOrg: String
        public var providerName: String
        public var bpID: String
        public var infoType: String
        public var outcome: String
        /// Times the requester repeated this answered mediation under its idempotency key and
        /// got the provider's answer again (charged and logged once).
        public var repeats: UInt32
    }

    /// Every entry about the person, in log order (pages followed up to `limit` entries).
    public func accessLog(personID: String, limit: Int = 1000) async throws(WireError) -> [AccessLogEntry] {
        guard let link = try? await links.link(personID: personID) else {
            throw WireError(.notFound, "no link for person \(personID) in this adapter's link table")
        }
        var entries: [AccessLogEntry] = []
        var token = ""
        repeat {
            let query = LCAccessLogQuery.with { $0.linkCode = link.linkCode; $0.pageSize = 500; $0.pageToken = token }
            let page: LCAccessLogPage
            do {
                guard case let .accessLogPage(reply)? = try await core.request(.accessLogQuery(query), timeout: Self.amount(settings.requestTimeout)) else {
                    throw WireError(.internal, "the core answered with another body")
                }
                page = reply
            } catch let error as WireError {
                throw error
            } catch {
                throw WireError(.unavailable, "the core did not answer: \(error)")
            }
            entries += page.entries.map {
                AccessLogEntry(mediationID: $0.mediationID, atMs: $0.atMs, requesterOrg: $0.requesterOrg, requesterName: $0.requesterName,
                               providerOrg: $0.providerOrg, providerName: $0.providerName, bpID: $0.bpID, infoType: $0.infoType,
                               outcome: Self.outcomeName($0.outcome), repeats: $0.repeats)
            }
            token = page.nextPageToken
        } while !token.isEmpty && entries.count < limit
        return entries
    }

    /// The outcome's one spelling (`LCOutcome.name`); one this adapter's .proto does not know yet
    /// is "unspecified", which the API document lists.
    static func outcomeName(_ outcome: LCOutcome) -> String {
        if case .UNRECOGNIZED = outcome { return "unspecified" }
        return outcome.name
    }
}
