extension LCOutcome {
    /// The .proto name without its OUTCOME_ prefix, in lower case: "answered",
    /// "refused_by_whitelist", ... The one spelling used in metric labels, the STATUS line and the
    /// adapter's JSON, so an operator greps one word everywhere.
    public var name: String {
        switch self {
        case .unspecified: "unspecified"
        case .answered: "answered"
        case .refusedByWhitelist: "refused_by_whitelist"
        case .invalidLink: "invalid_link"
        case .providerUnavailableOutcome: "provider_unavailable"
        case .providerRefusedOutcome: "provider_refused"
        case .timedOut: "timed_out"
        case .policyFailed: "policy_failed"
        case let .UNRECOGNIZED(value): "unrecognized_\(value)"
        }
    }
}
