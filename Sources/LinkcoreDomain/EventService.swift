import Foundation
import LinkcoreLinkCodes
import LinkcoreStore
import LinkcoreWire

/// Change events (変更通知): the matcher reports that a resident's facts changed; the core
/// writes one outbox entry per live link of each organisation the routing says receives it,
/// and hands them out addressed by that organisation's own link code. The event only, never
/// the new facts.
public final class EventService: Sendable {
    private let store: any EventStore
    private let keyring: LinkCodeKeyring
    private let hasher: ResidentHasher
    private let orgs: OrgDirectory
    private let routing: any EventRouting
    private let tariff: any Tariff
    /// Minute of the UTC day at which daily batches fall due (18:00 UTC = 03:00 JST by default).
    public let batchMinuteUTC: Int
    private let now: @Sendable () -> Int64

    /// Most events one FetchEvents returns or one AckEvents marks.
    public static let maxBatch = 1000

    public init(store: any EventStore, keyring: LinkCodeKeyring, hasher: ResidentHasher, orgs: OrgDirectory,
                routing: any EventRouting = DefaultEventRouting(), tariff: any Tariff = FreeTariff(), batchMinuteUTC: Int = 18 * 60,
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.tariff = tariff
        self.store = store
        self.keyring = keyring
        self.hasher = hasher
        self.orgs = orgs
        self.routing = routing
        self.batchMinuteUTC = min(max(batchMinuteUTC, 0), 24 * 60 - 1)
        self.now = now
    }

    /// What a report did: the reply to the matcher, and the organisations that now have
    /// events due at once (to push to, if connected).
    public struct Fanout: Sendable, Equatable {
        public var response: LCReportChangeResponse
        public var dueNow: [String]
    }

    /// Matcher -> core. Durable before it returns: the dedup row and every outbox entry are one
    /// write. An unknown resident queues nothing and is acknowledged like any other report.
    public func report(_ change: LCReportChange, reporter: String) async -> Result<Fanout, WireError> {
        guard change.residentCode.range(of: "^[0-9]{11}$", options: .regularExpression) != nil else {
            return .failure(WireError(.invalidArgument, "resident_code must be 11 digits"))
        }
        guard !change.reportID.isEmpty, change.reportID.utf8.count <= 128 else {
            return .failure(WireError(.invalidArgument, "report_id must be 1-128 characters"))
        }
        switch change.kind {
        case .moved, .renamed, .died, .other: break
        default: return .failure(WireError(.invalidArgument, "kind must be moved, renamed, died or other"))
        }
        let nowMs = now()
        do {
            let targets = try await store.fanoutTargets(reporter: reporter, reportID: change.reportID,
                                                        residentHash: try hasher.hash(residentCode: change.residentCode))
            if let queued = targets.seen {
                return .success(Fanout(response: .with { $0.eventsQueued = UInt32(clamping: queued) }, dueNow: []))
            }
            var entries: [OutboxEntry] = []
            if let idCode = targets.idCode {
                for link in targets.links {
                    guard let org = orgs[link.orgCode] else { continue }
                    switch await decide(for: org, kind: change.kind, atMs: nowMs) {
                    case let .failure(error):
                        // Fail closed for the whole report: nothing is written, the matcher
                        // keeps its cursor and sends the report again later.
                        return .failure(error)
                    case let .success(decision):
                        guard let delivery = decision.delivery else { continue }
                        entries.append(OutboxEntry(
                            eventID: Self.newEventID(), orgCode: org.code, idCode: idCode,
                            kind: decision.revealKind ? change.kind.rawValue : 0,
                            occurredAtMs: Self.dayStartJST(change.occurredAtMs > 0 ? change.occurredAtMs : nowMs), delivery: delivery,
                            dueAtMs: delivery == .immediate ? nowMs : nextBatch(after: nowMs), createdAtMs: nowMs))
                    }
                }
            }
            let (queued, duplicate) = try await store.queueEvents(reporter: reporter, reportID: change.reportID, entries: entries, nowMs: nowMs)
            let due = duplicate ? [] : Array(Set(entries.filter { $0.delivery == .immediate }.map(\.orgCode))).sorted()
            return .success(Fanout(response: .with { $0.eventsQueued = UInt32(clamping: queued) }, dueNow: due))
        } catch {
            return .failure(WireError(.unavailable, "change report failed: \(error)"))
        }
    }

    /// The routing decision for one receiver, checked: a decision the core cannot act on
    /// (unspecified or unknown delivery) fails closed.
    func decide(for org: Organisation, kind: LCChangeKind, atMs: Int64) async -> Result<(delivery: EventDelivery?, revealKind: Bool), WireError> {
        var query = LCEventRoutingQuery()
        query.receiver = .with { $0.code = org.code; $0.sector = org.sector.proto; $0.role = org.role.proto }
        query.kind = kind
        query.atMs = atMs
        switch await routing.route(query) {
        case let .failure(error):
            return .failure(error)
        case let .success(decision):
            switch decision.delivery {
            case .none: return .success((nil, false))
            case .immediate: return .success((.immediate, decision.revealKind))
            case .dailyBatch: return .success((.dailyBatch, decision.revealKind))
            default: return .failure(WireError(.policyFailure, "event routing gave no usable delivery for \(org.code)"))
            }
        }
    }

    /// The start (00:00 JST) of the day `ms` falls in. Receivers get the day of a change, not
    /// its millisecond: an exact time shared by every receiver would let two organisations join
    /// their link codes for the same resident by comparing events.
    static func dayStartJST(_ ms: Int64) -> Int64 {
        let day: Int64 = 86_400_000, jst: Int64 = 9 * 3_600_000
        let local = ms + jst
        return local - ((local % day) + day) % day - jst
    }

    /// The first batch time strictly after `ms`.
    public func nextBatch(after ms: Int64) -> Int64 {
        let day: Int64 = 86_400_000
        let offset = Int64(batchMinuteUTC) * 60_000
        let today = ms - ((ms % day) + day) % day + offset
        return today > ms ? today : today + day
    }

    /// 128 random bits: unique, and unrelated between the organisations one change reaches,
    /// so two receivers cannot join their link codes by comparing event ids.
    static func newEventID() -> String {
        var generator = SystemRandomNumberGenerator()
        return "ev-" + [generator.next(), generator.next()].map { (v: UInt64) in
            let hex = String(v, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// The organisation's due, unacknowledged events, oldest first, each addressed by its own
    /// link code (derived now from the live link), with their outbox positions.
    public func pending(orgCode: String, afterSeq: Int64 = 0, limit: Int) async -> Result<[(seq: Int64, event: LCChangeEvent)], WireError> {
        do {
            let rows = try await store.pendingEvents(orgCode: orgCode, dueBy: now(), afterSeq: afterSeq, limit: min(max(limit, 1), Self.maxBatch))
            return .success(try rows.map { ($0.seq, try event($0)) })
        } catch {
            return .failure(WireError(.unavailable, "events: \(error)"))
        }
    }

    func event(_ pending: PendingEvent) throws -> LCChangeEvent {
        var event = LCChangeEvent()
        event.eventID = pending.entry.eventID
        event.linkCode = try keyring.issue(IDCode(rawValue: pending.entry.idCode), org: pending.entry.orgCode,
                                           keyIndex: KeyIndex(rawValue: pending.keyIndex))
        event.kind = LCChangeKind(rawValue: pending.entry.kind) ?? .unspecified
        event.occurredAtMs = pending.entry.occurredAtMs
        return event
    }

    /// Organisation -> core: FetchEvents.
    public func fetch(orgCode: String, max: UInt32) async -> Result<LCFetchEventsResponse, WireError> {
        await pending(orgCode: orgCode, limit: max == 0 ? 100 : Int(max)).map { rows in .with { $0.events = rows.map(\.event) } }
    }

    /// Organisation -> core: AckEvents (and each ChangeEventAck). Only the organisation's own
    /// events are marked; other ids are ignored without saying so. A delivered event is charged
    /// to its receiver in the same write (受益者負担); a tariff that cannot decide leaves the
    /// events pending, to be delivered and charged later.
    public func acknowledge(orgCode: String, eventIDs: [String]) async -> Result<Int, WireError> {
        guard eventIDs.count <= Self.maxBatch else {
            return .failure(WireError(.invalidArgument, "at most \(Self.maxBatch) event ids per AckEvents"))
        }
        guard let org = orgs[orgCode] else { return .failure(WireError(.orgUnknown, "organisation \(orgCode) is not registered")) }
        let at = now()
        let price: Price?
        switch await tariff.price(.eventDelivery, payer: org, bpID: "", atMs: at) {
        case let .success(found): price = found
        case let .failure(error): return .failure(WireError(.policyFailure, "the tariff could not decide: \(error.message)", retryable: error.retryable))
        }
        let charge = price.map { price in { @Sendable (id: String) in price.charge(payer: orgCode, .eventDelivery, reference: id, atMs: at) } }
        do {
            return .success(try await store.acknowledgeEvents(orgCode: orgCode, eventIDs: eventIDs, nowMs: at, charge: charge))
        } catch {
            return .failure(WireError(.unavailable, "events: \(error)"))
        }
    }

    public func counts() async -> EventCounts? { try? await store.eventCounts() }
}
