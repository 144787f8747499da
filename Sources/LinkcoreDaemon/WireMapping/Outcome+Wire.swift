import LinkcoreAudit
import LinkcoreWire

// Access-log outcomes as the wire spells them, both ways, by name (never by raw value): the
// switch is exhaustive, so a new `AccessOutcome` does not compile until it is mapped.

extension AccessOutcome {
    var wire: LCOutcome {
        switch self {
        case .answered: return .answered
        case .refusedByWhitelist: return .refusedByWhitelist
        case .invalidLink: return .invalidLink
        case .providerUnavailable: return .providerUnavailableOutcome
        case .providerRefused: return .providerRefusedOutcome
        case .timedOut: return .timedOut
        case .policyFailed: return .policyFailed
        }
    }

    /// nil for `.unspecified` and values this core does not know.
    init?(wire: LCOutcome) {
        guard let outcome = Self.allCases.first(where: { $0.wire == wire }) else { return nil }
        self = outcome
    }
}
