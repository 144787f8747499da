import LinkcoreWire

/// What an operation costs its payer (受益者負担), as the mediator asks it. The daemon bridges this
/// to the fees policy module; with no fees module nothing is charged (`nil`). A failure is
/// POLICY_FAILURE: the request is refused rather than served uncharged.
public protocol FeeSchedule: Sendable {
    func fee(_ query: LCFeeQuery) async -> Result<LCFeeDecision?, WireError>
}

/// No tariff: nothing is charged (tests, and a core without a fees module).
public struct NoFees: FeeSchedule {
    public init() {}
    public func fee(_ query: LCFeeQuery) async -> Result<LCFeeDecision?, WireError> { .success(nil) }
}
