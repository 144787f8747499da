/// The change-event side of the core's store: reports already fanned out, and the outbox of
/// events waiting for their organisation's acknowledgement. Like `CoreStore`, every method that
/// changes state returns only once the change is durable.
public protocol EventStore: Sendable {
    /// The ID code of the resident with this keyed hash, if the core has ever linked them.
    func idCode(residentHash: [UInt8]) async throws -> UInt64?
    /// Every live link of a resident (one per organisation).
    func liveLinks(idCode: UInt64) async throws -> [Link]
    /// How many events a report queued, if this reporter already sent this report id.
    func changeReport(reporter: String, reportID: String) async throws -> Int?
    /// The three lookups of a fan-out in one read: the report's earlier count (if seen), the
    /// resident's ID code (if known) and their live links.
    func fanoutTargets(reporter: String, reportID: String, residentHash: [UInt8]) async throws -> FanoutTargets
    /// Writes the report's dedup row and all its outbox entries in one durable write. If the
    /// report id was recorded meanwhile, writes nothing and returns the first count with
    /// `duplicate` set. An entry with a `batchRange` joins its organisation's batch already
    /// waiting in that range (takes its release time), if there is one, inside the same write.
    func queueEvents(reporter: String, reportID: String, entries: [OutboxEntry], nowMs: Int64) async throws -> (queued: Int, duplicate: Bool)
    /// An organisation's unacknowledged events that are due by `nowMs` and whose link is still
    /// live, in release order (release time, then the random event id), after `after`.
    func pendingEvents(orgCode: String, dueBy nowMs: Int64, after: EventPosition?, limit: Int) async throws -> [PendingEvent]
    /// The earliest release time after `nowMs` among the organisation's unacknowledged events.
    func nextRelease(orgCode: String, after nowMs: Int64) async throws -> Int64?
    /// Marks the organisation's own events acknowledged; returns how many were newly marked.
    /// `charge` (built per event id) is written for each event this call marks delivered.
    func acknowledgeEvents(orgCode: String, eventIDs: [String], nowMs: Int64,
                           charge: (@Sendable (_ eventID: String) -> FeeCharge)?) async throws -> Int
    /// Totals over the whole outbox.
    func eventCounts() async throws -> EventCounts
}

/// How an event reaches its organisation (policy.proto `Delivery`, without NONE: an
/// organisation that receives nothing gets no outbox row).
public enum EventDelivery: Int, Sendable, Codable { case immediate = 2, dailyBatch = 3 }

/// One outbox row: one event for one organisation, about one resident (by ID code).
public struct OutboxEntry: Sendable, Equatable {
    public var eventID: String
    public var orgCode: String
    public var idCode: UInt64
    /// `ChangeKind` raw value; 0 when the kind is withheld from this receiver.
    public var kind: Int
    public var occurredAtMs: Int64
    public var delivery: EventDelivery
    /// When it may be sent (its release time): a random time in the delivery window after the
    /// report for immediate events, after the next batch time for daily batches.
    public var dueAtMs: Int64
    public var createdAtMs: Int64
    public var ackedAtMs: Int64?
    /// Only when queueing: the release times of a batch of this organisation still waiting that
    /// the entry joins instead of `dueAtMs` (not stored; nil when reading).
    public var batchRange: Range<Int64>?

    public init(eventID: String, orgCode: String, idCode: UInt64, kind: Int, occurredAtMs: Int64, delivery: EventDelivery,
                dueAtMs: Int64, createdAtMs: Int64, ackedAtMs: Int64? = nil, batchRange: Range<Int64>? = nil) {
        self.eventID = eventID; self.orgCode = orgCode; self.idCode = idCode; self.kind = kind
        self.occurredAtMs = occurredAtMs; self.delivery = delivery; self.dueAtMs = dueAtMs
        self.createdAtMs = createdAtMs; self.ackedAtMs = ackedAtMs; self.batchRange = batchRange
    }
}

/// A place in an organisation's release order: pending events are read after it.
public struct EventPosition: Sendable, Equatable {
    public var dueAtMs: Int64
    public var eventID: String

    public init(dueAtMs: Int64, eventID: String) {
        self.dueAtMs = dueAtMs
        self.eventID = eventID
    }
}

/// An outbox entry ready to send, with its position and the key index of the live link its
/// link code is derived from.
public struct PendingEvent: Sendable, Equatable {
    public var seq: Int64
    public var entry: OutboxEntry
    public var keyIndex: UInt16

    public init(seq: Int64, entry: OutboxEntry, keyIndex: UInt16) {
        self.seq = seq; self.entry = entry; self.keyIndex = keyIndex
    }

    public var position: EventPosition { EventPosition(dueAtMs: entry.dueAtMs, eventID: entry.eventID) }
}

public struct EventCounts: Sendable, Equatable {
    public var queued: UInt64
    public var delivered: UInt64
    public var pending: UInt64 { queued - delivered }

    public init(queued: UInt64, delivered: UInt64) {
        self.queued = queued
        self.delivered = delivered
    }
}

public struct FanoutTargets: Sendable, Equatable {
    public var seen: Int?
    public var idCode: UInt64?
    public var links: [Link]

    public init(seen: Int?, idCode: UInt64?, links: [Link]) {
        self.seen = seen; self.idCode = idCode; self.links = links
    }
}
