import LinkcoreStore

/// What changed about a resident (the kind only, never the new facts). The raw values are the
/// ones the outbox stores (`OutboxEntry.kind`, 0 = withheld) and the same numbers as the wire's.
public enum ChangeKind: Int, Sendable, CaseIterable {
    case moved = 1
    case renamed = 2
    case died = 3
    case other = 4
}

/// Matcher → core: a resident's facts changed. `kind` nil: the report named none the core knows.
public struct ChangeReport: Sendable, Equatable {
    public var reportID: String
    public var residentCode: String
    public var kind: ChangeKind?
    /// 0: now.
    public var occurredAtMs: Int64

    public init(reportID: String, residentCode: String, kind: ChangeKind?, occurredAtMs: Int64 = 0) {
        self.reportID = reportID; self.residentCode = residentCode; self.kind = kind; self.occurredAtMs = occurredAtMs
    }
}

/// One event as its receiver gets it, addressed by the receiver's own link code.
public struct ChangeEvent: Sendable, Equatable {
    public var eventID: String
    public var linkCode: String
    /// nil: withheld from this receiver ("changed").
    public var kind: ChangeKind?
    /// 00:00 JST of the day of the change.
    public var occurredAtMs: Int64

    public init(eventID: String, linkCode: String, kind: ChangeKind?, occurredAtMs: Int64) {
        self.eventID = eventID; self.linkCode = linkCode; self.kind = kind; self.occurredAtMs = occurredAtMs
    }
}

/// Does this receiver get this change event, when, and with its kind?
public struct EventRoutingQuery: Sendable, Equatable {
    public var receiver: OrgRef
    public var kind: ChangeKind
    public var atMs: Int64

    public init(receiver: OrgRef, kind: ChangeKind, atMs: Int64) { self.receiver = receiver; self.kind = kind; self.atMs = atMs }
}

public struct EventRoutingDecision: Sendable, Equatable {
    /// nil: the receiver does not get the event.
    public var delivery: EventDelivery?
    public var revealKind: Bool

    public init(delivery: EventDelivery?, revealKind: Bool) { self.delivery = delivery; self.revealKind = revealKind }
}
