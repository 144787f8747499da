import Foundation
import LinkcoreLinkCodes
import LinkcoreStore
import Synchronization

/// Change events (変更通知): the matcher reports that a resident's facts changed; the core
/// writes one outbox entry per live link of each organisation the routing says receives it,
/// and hands them out addressed by that organisation's own link code. The event only, never
/// the new facts.
///
/// Each receiver's events leave in batches at a random release time inside the delivery
/// window, in random order inside a batch, drawn independently per receiver (issue 12, finding
/// 7c): receivers of one change do not get it at the same instant nor in the same order as one
/// another, so colluding receivers cannot simply join their link codes by arrival time.
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
    /// When given, release times are set and judged on its earlier reading, so that a step of
    /// the wall clock forward does not release events before their delivery window has passed
    /// in real time (docs/reliability.md, "The clock jumps"); nil: the wall clock `now`.
    private let releaseClock: StepSafeClock?
    private let random: EventRandom
    private let window: Mutex<Int64>

    /// Most events one FetchEvents returns or one AckEvents marks.
    public static let maxBatch = 1000

    public init(store: any EventStore, keyring: LinkCodeKeyring, hasher: ResidentHasher, orgs: OrgDirectory,
                routing: any EventRouting = DefaultEventRouting(), tariff: any Tariff = FreeTariff(), batchMinuteUTC: Int = 18 * 60,
                deliveryWindowMs: Int64, random: EventRandom = .system,
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) },
                releaseClock: StepSafeClock? = nil) {
        self.releaseClock = releaseClock
        self.random = random
        self.window = Mutex(max(deliveryWindowMs, 0))
        self.tariff = tariff
        self.store = store
        self.keyring = keyring
        self.hasher = hasher
        self.orgs = orgs
        self.routing = routing
        self.batchMinuteUTC = min(max(batchMinuteUTC, 0), 24 * 60 - 1)
        self.now = now
    }

    /// `[events] delivery_window_ms`: each receiver's batch is released at a uniformly random
    /// time this long or less after the report (after the batch time for daily batches). 0
    /// sends at once. Applies to events queued from now on (a reload sets it).
    public var deliveryWindowMs: Int64 { window.withLock { $0 } }
    public func setDeliveryWindow(ms: Int64) { window.withLock { $0 = max(ms, 0) } }

    /// The service's clock (milliseconds since 1970), for whoever schedules releases.
    public func currentTimeMs() -> Int64 { now() }

    /// The clock release times are set and judged on (`releaseClock`, or the wall clock).
    public func releaseTimeMs() -> Int64 { releaseClock?.earliestMs() ?? now() }

    /// What a report did: the reply to the matcher, and the organisations it queued events for
    /// (their dispatcher schedules the release, or pushes at once when already due).
    public struct Fanout: Sendable, Equatable {
        /// Events queued for the report (by the first report under its id, when repeated).
        public var eventsQueued: UInt32
        public var receivers: [String]
    }

    /// Matcher -> core. Durable before it returns: the dedup row and every outbox entry are one
    /// write. An unknown resident queues nothing and is acknowledged like any other report.
    public func report(_ change: ChangeReport, reporter: String) async -> Result<Fanout, Refusal> {
        guard change.residentCode.range(of: "^[0-9]{11}$", options: .regularExpression) != nil else {
            return .failure(Refusal(.invalidArgument, "resident_code must be 11 digits"))
        }
        guard !change.reportID.isEmpty, change.reportID.utf8.count <= 128 else {
            return .failure(Refusal(.invalidArgument, "report_id must be 1-128 characters"))
        }
        guard let kind = change.kind else {
            return .failure(Refusal(.invalidArgument, "kind must be moved, renamed, died or other"))
        }
        let nowMs = now()
        let releaseMs = releaseTimeMs()
        do {
            let targets = try await store.fanoutTargets(reporter: reporter, reportID: change.reportID,
                                                        residentHash: try hasher.hash(residentCode: change.residentCode))
            if let queued = targets.seen {
                return .success(Fanout(eventsQueued: UInt32(clamping: queued), receivers: []))
            }
            var entries: [OutboxEntry] = []
            let windowMs = deliveryWindowMs
            if let idCode = targets.idCode {
                for link in targets.links {
                    guard let org = orgs[link.orgCode] else { continue }
                    switch await decide(for: org, kind: kind, atMs: nowMs) {
                    case let .failure(error):
                        // Fail closed for the whole report: nothing is written, the matcher
                        // keeps its cursor and sends the report again later.
                        return .failure(error)
                    case let .success(decision):
                        guard let delivery = decision.delivery else { continue }
                        let base = delivery == .immediate ? releaseMs : nextBatch(after: releaseMs)
                        entries.append(OutboxEntry(
                            eventID: newEventID(), orgCode: org.code, idCode: idCode,
                            kind: decision.revealKind ? kind.rawValue : 0,
                            occurredAtMs: Self.dayStartJST(change.occurredAtMs > 0 ? change.occurredAtMs : nowMs), delivery: delivery,
                            dueAtMs: base + draw(below: windowMs), createdAtMs: nowMs,
                            batchRange: windowMs > 0 ? base..<(base + windowMs) : nil))
                    }
                }
            }
            let (queued, duplicate) = try await store.queueEvents(reporter: reporter, reportID: change.reportID, entries: entries, nowMs: nowMs)
            let receivers = duplicate ? [] : Array(Set(entries.map(\.orgCode))).sorted()
            return .success(Fanout(eventsQueued: UInt32(clamping: queued), receivers: receivers))
        } catch {
            return .failure(Refusal(.unavailable, "change report failed: \(error)"))
        }
    }

    /// The routing decision for one receiver. (A decision the core cannot act on, an unspecified
    /// or unknown delivery, fails closed where it is read: the daemon's mapping of the module's.)
    func decide(for org: Organisation, kind: ChangeKind, atMs: Int64) async -> Result<EventRoutingDecision, Refusal> {
        await routing.route(EventRoutingQuery(receiver: org.ref, kind: kind, atMs: atMs))
            .map { $0.delivery == nil ? EventRoutingDecision(delivery: nil, revealKind: false) : $0 }
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

    /// A release delay, uniform in [0, `bound`), drawn afresh for each receiver of each report:
    /// the delays of one change's receivers are independent. A receiver with a batch already
    /// waiting in its window joins it instead (`OutboxEntry.batchRange`).
    func draw(below bound: Int64) -> Int64 {
        guard bound > 0 else { return 0 }
        var bits = EventRandom.Generator(source: random)
        return Int64.random(in: 0..<bound, using: &bits)
    }

    /// 128 random bits: unique, and unrelated between the organisations one change reaches,
    /// so two receivers cannot join their link codes by comparing event ids. Pending events
    /// are sent in event-id order inside a batch, so this also shuffles each batch, independently
    /// per receiver.
    func newEventID() -> String {
        "ev-" + [random.next(), random.next()].map { (v: UInt64) in
            let hex = String(v, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// The organisation's released (due), unacknowledged events, in release order (batch by
    /// batch, shuffled inside a batch), each addressed by its own link code (derived now from the
    /// live link), with their positions in that order. Push and pull both read here, so pulling
    /// gets nothing before its release time either.
    public func pending(orgCode: String, after: EventPosition? = nil, limit: Int) async -> Result<[(position: EventPosition, event: ChangeEvent)], Refusal> {
        do {
            let rows = try await store.pendingEvents(orgCode: orgCode, dueBy: releaseTimeMs(), after: after, limit: min(max(limit, 1), Self.maxBatch))
            return .success(try rows.map { ($0.position, try event($0)) })
        } catch {
            return .failure(Refusal(.unavailable, "events: \(error)"))
        }
    }

    /// When the organisation's next batch is released (after `after`, by default now), if one
    /// is waiting.
    public func nextRelease(orgCode: String, after: Int64? = nil) async -> Int64? {
        try? await store.nextRelease(orgCode: orgCode, after: after ?? releaseTimeMs())
    }

    public func event(_ pending: PendingEvent) throws -> ChangeEvent {
        ChangeEvent(eventID: pending.entry.eventID,
                    linkCode: try keyring.issue(IDCode(rawValue: pending.entry.idCode), org: pending.entry.orgCode,
                                                keyIndex: KeyIndex(rawValue: pending.keyIndex)),
                    // 0 is stored for a kind withheld from this receiver (see `report`).
                    kind: ChangeKind(rawValue: pending.entry.kind), occurredAtMs: pending.entry.occurredAtMs)
    }

    /// Organisation -> core: FetchEvents.
    public func fetch(orgCode: String, max: UInt32) async -> Result<[ChangeEvent], Refusal> {
        await pending(orgCode: orgCode, limit: max == 0 ? 100 : Int(max)).map { rows in rows.map(\.event) }
    }

    /// Organisation -> core: AckEvents (and each ChangeEventAck). Only the organisation's own
    /// events are marked; other ids are ignored without saying so. A delivered event is charged
    /// to its receiver in the same write (受益者負担); a tariff that cannot decide leaves the
    /// events pending, to be delivered and charged later.
    public func acknowledge(orgCode: String, eventIDs: [String]) async -> Result<Int, Refusal> {
        guard eventIDs.count <= Self.maxBatch else {
            return .failure(Refusal(.invalidArgument, "at most \(Self.maxBatch) event ids per AckEvents"))
        }
        guard let org = orgs[orgCode] else { return .failure(Refusal(.orgUnknown, "organisation \(orgCode) is not registered")) }
        let at = now()
        let price: Price?
        switch await tariff.price(.eventDelivery, payer: org, bpID: "", atMs: at) {
        case let .success(found): price = found
        case let .failure(error): return .failure(Refusal(.policyFailure, "the tariff could not decide: \(error.message)", retryable: error.retryable))
        }
        let charge = price.map { price in { @Sendable (id: String) in price.charge(payer: orgCode, .eventDelivery, reference: id, atMs: at) } }
        do {
            return .success(try await store.acknowledgeEvents(orgCode: orgCode, eventIDs: eventIDs, nowMs: at, charge: charge))
        } catch {
            return .failure(Refusal(.unavailable, "events: \(error)"))
        }
    }

    public func counts() async -> EventCounts? { try? await store.eventCounts() }
}

/// Where the event service's randomness comes from: 64 random bits per call. The system CSPRNG
/// (`getrandom`) in production; a test injects a seeded source to replay a schedule.
public struct EventRandom: Sendable {
    public let next: @Sendable () -> UInt64

    public init(_ next: @escaping @Sendable () -> UInt64) { self.next = next }

    public static let system = EventRandom {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }

    struct Generator: RandomNumberGenerator {
        let source: EventRandom
        mutating func next() -> UInt64 { source.next() }
    }
}
