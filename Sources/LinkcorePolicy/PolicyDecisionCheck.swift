import LinkcoreWire

/// Why a module's decision was refused by the host (the detail of `PolicyError.garbage`).
public struct DecisionProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var detail: String
    public var description: String { detail }
}

/// The host's side of a decision, without a loaded module: the bytes a module returned are
/// decoded and checked exactly as `PolicySet` does before acting on them. The entry of the
/// fuzzing target `FuzzPolicyDecision` (Tests/Fuzz) and of its regression tests.
public enum PolicyDecisionCheck {
    /// nil when the host would accept `bytes` as a decision of `kind`, else why it would not.
    public static func problem(kind: PolicyKind, bytes: [UInt8]) -> DecisionProblem? {
        let result: Result<Void, DecisionProblem> =
            switch kind {
            case .whitelist: PolicySet.decision(bytes, validate: PolicySet.validate as (LCWhitelistDecision) -> String?).map { _ in () }
            case .fees: PolicySet.decision(bytes, validate: PolicySet.validate as (LCFeeDecision) -> String?).map { _ in () }
            case .events: PolicySet.decision(bytes, validate: PolicySet.validate as (LCEventRoutingDecision) -> String?).map { _ in () }
            }
        if case .failure(let problem) = result { return problem }
        return nil
    }
}
