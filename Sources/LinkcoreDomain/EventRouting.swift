/// Decides, per receiving organisation and change kind, whether an event is sent, when, and
/// whether its kind is revealed (policy.proto `EventRoutingQuery` → `EventRoutingDecision`).
/// The loadable events policy module implements this; callers only see the protocol.
public protocol EventRouting: Sendable {
    func route(_ query: EventRoutingQuery) async -> Result<EventRoutingDecision, Refusal>
}

/// The routing the core applies when no policy module is loaded: agencies get every event at
/// once with its kind; private-sector connectors get it at once as "changed" (kind withheld,
/// the domain's default for private receivers); the matcher, the portal and the card authority get nothing.
public struct DefaultEventRouting: EventRouting {
    public init() {}

    public func route(_ query: EventRoutingQuery) async -> Result<EventRoutingDecision, Refusal> {
        switch query.receiver.role {
        case .agency: return .success(EventRoutingDecision(delivery: .immediate, revealKind: true))
        case .privateConnector: return .success(EventRoutingDecision(delivery: .immediate, revealKind: false))
        case .matcher, .portal, .cardAuthority: return .success(EventRoutingDecision(delivery: nil, revealKind: false))
        }
    }
}
