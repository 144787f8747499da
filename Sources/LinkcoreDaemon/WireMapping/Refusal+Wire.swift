import LinkcoreDomain
import LinkcoreWire

// The domain's refusals as the wire spells them: written once, here at the daemon's edge. The
// switch is exhaustive, so a new `Refusal.Code` does not compile until it is mapped
// (WireMappingTests checks every code both ways).

extension Refusal.Code {
    var wire: LCErrorCode {
        switch self {
        case .invalidArgument: return .invalidArgument
        case .permissionDenied: return .permissionDenied
        case .orgUnknown: return .orgUnknown
        case .orgSuspended: return .orgSuspended
        case .invalidLinkCode: return .invalidLinkCode
        case .invalidMatchingNumber: return .invalidMatchingNumber
        case .notPermitted: return .notPermitted
        case .providerUnavailable: return .providerUnavailable
        case .providerRefused: return .providerRefused
        case .providerTimeout: return .providerTimeout
        case .policyFailure: return .policyFailure
        case .unavailable: return .unavailable
        }
    }

    /// The domain code for a wire code, if the domain has one (the rest are the session's).
    init?(wire: LCErrorCode) {
        guard let code = Self.allCases.first(where: { $0.wire == wire }) else { return nil }
        self = code
    }
}

extension WireError {
    init(_ refusal: Refusal) {
        self.init(refusal.code.wire, refusal.message, retryable: refusal.retryable, providerCode: refusal.providerCode)
    }

    /// What a policy failure tells the domain: the same code, message and retryability.
    var refusal: Refusal {
        Refusal(Refusal.Code(wire: code) ?? .policyFailure, message, retryable: retryable, providerCode: providerCode)
    }
}

extension Result where Failure == Refusal {
    /// The reply to a request: the domain's answer mapped to its body, or its refusal as a wire error.
    func wire<Body>(_ body: (Success) -> Body) -> Result<Body, WireError> {
        map(body).mapError(WireError.init)
    }
}
