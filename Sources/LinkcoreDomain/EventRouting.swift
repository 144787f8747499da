import LinkcoreWire

/// Decides, per receiving organisation and change kind, whether an event is sent, when, and
/// whether its kind is revealed (policy.proto `EventRoutingQuery` → `EventRoutingDecision`).
/// The loadable events policy module implements this; callers only see the protocol.
public protocol EventRouting: Sendable {
    func route(_ query: LCEventRoutingQuery) async -> Result<LCEventRoutingDecision, WireError>
}

/// The routing the core applies when no policy module is loaded: agencies get every event at
/// once with its kind; private-sector connectors get it at once as "changed" (kind withheld,
/// the domain's default for private receivers); the matcher and the portal get nothing.
public struct DefaultEventRouting: EventRouting {
    public init() {}

    public func route(_ query: LCEventRoutingQuery) async -> Result<LCEventRoutingDecision, WireError> {
        var decision = LCEventRoutingDecision()
        switch query.receiver.role {
        case .agency:
            decision.delivery = .immediate
            decision.revealKind = true
        case .privateConnector:
            decision.delivery = .immediate
            decision.revealKind = false
        default:
            decision.delivery = .none
        }
        return .success(decision)
    }
}
