import LinkcoreConfig
import LinkcoreDomain
import LinkcoreStore
import LinkcorePolicy
import LinkcorePolicyTables
import LinkcoreWire
import Logging

/// Maps `[policy]` onto the policy host. Integration point for mediation, fees and events: the
/// request path asks `CoreComponents.policy` (it is a `WhitelistPolicy`, `FeePolicy` and `EventPolicy`) and
/// answers a `PolicyError` with its `wireError` (POLICY_FAILURE).
enum DaemonPolicy {
    static func spec(_ config: DaemonConfig) -> PolicySpec {
        PolicySpec(
            modules: config.policy.modules.map { module in
                let kind: PolicyKind =
                    switch module.kind {
                    case .whitelist: .whitelist
                    case .fees: .fees
                    case .events: .events
                    }
                return PolicySpec.Module(kind: kind, path: module.path, config: module.config)
            },
            deadline: config.policy.decisionDeadline, workersPerModule: config.policy.workersPerModule)
    }

    /// Loads the configured set (at start, and on reload). Throws when any module fails: at start
    /// the daemon refuses to run with a policy it was told to use but cannot load; on reload the
    /// previous set stays in force. A config with no modules loads nothing until it names some
    /// (and, once a set was loaded, swaps in an empty set: every decision then fails closed, see
    /// `PolicySet.governs`; a restart with no modules returns to the built-in behaviour).
    static func load(_ config: DaemonConfig, into host: PolicyHost) throws(PolicyLoadError) {
        guard !config.policy.modules.isEmpty || host.current != nil else { return }
        if case .failure(let error) = host.load(spec(config)) { throw error }
    }
}

/// Where a failed policy decision is logged: one warning per failure, naming the module and why
/// (overran its deadline, failed, garbage), throttled per module so that a hung module under
/// load cannot flood the journal (what was held back is counted in the next line). The request
/// itself is answered POLICY_FAILURE, retryable when the failure is transient.
final class PolicyFailureLog: Sendable {
    let logger: Logger
    let throttle = LogThrottle()

    init(logger: Logger) { self.logger = logger }

    /// The failure as the domain hears it (POLICY_FAILURE, retryable when transient).
    func refusal(_ error: PolicyError, kind: PolicyKind) -> Refusal { wireError(error, kind: kind).refusal }

    func wireError(_ error: PolicyError, kind: PolicyKind) -> WireError {
        let key = error.module.isEmpty ? "\(kind)" : error.module
        if let suppressed = throttle.admit(key) {
            logger.warning("policy decision failed", metadata: [
                "kind": "\(kind)", "module": "\(error.module)", "error": "\(error)", "retryable": "\(error.isTransient)",
                "suppressed_before": "\(suppressed)",
            ])
        }
        return error.wireError
    }
}

/// The events policy module as the event service's routing. Asked per event and receiver, it
/// reads the set in force each time, so a reload changes routing between events.
struct ModuleEventRouting: EventRouting {
    let policy: PolicyHost
    let failures: PolicyFailureLog
    private let fallback = DefaultEventRouting()

    func route(_ query: EventRoutingQuery) async -> Result<EventRoutingDecision, Refusal> {
        // No events module configured: the core's built-in routing. A configured module that
        // fails is never replaced by the fallback: that event fails closed.
        guard policy.current?.governs(.events) == true else { return await fallback.route(query) }
        let asked = LCEventRoutingQuery.with { $0.receiver = query.receiver.wire; $0.kind = query.kind.wire; $0.atMs = query.atMs }
        switch await policy.decide(asked) {
        case let .failure(error):
            return .failure(failures.refusal(error, kind: .events))
        case let .success(decision):
            switch decision.delivery {
            case .none: return .success(EventRoutingDecision(delivery: nil, revealKind: false))
            case .immediate: return .success(EventRoutingDecision(delivery: .immediate, revealKind: decision.revealKind))
            case .dailyBatch: return .success(EventRoutingDecision(delivery: .dailyBatch, revealKind: decision.revealKind))
            // A decision the core cannot act on fails closed.
            case .unspecified, .UNRECOGNIZED:
                return .failure(Refusal(.policyFailure, "event routing gave no usable delivery for \(query.receiver.code)"))
            }
        }
    }
}

/// The built-in table (`[mediation] whitelist`): the whitelist module's own engine, called in
/// process. It never fails to decide.
struct TableWhitelist: Whitelist {
    let table: WhitelistTable

    func decide(_ query: WhitelistQuery) async -> Result<WhitelistDecision, Refusal> {
        .success(WhitelistDecision(wire: table.decide(query.wire)))
    }
}

/// The whitelist modules as the mediator's whitelist. When the set in force has whitelist
/// modules they decide; the built-in CSV table (`[mediation] whitelist`) decides only when none is
/// configured. A configured module that fails is never replaced by the table, nor is an emptied
/// set (every module removed by a reload): that request fails closed.
struct ModuleWhitelist: Whitelist {
    let policy: PolicyHost
    let builtin: CurrentWhitelist
    let failures: PolicyFailureLog

    func decide(_ query: WhitelistQuery) async -> Result<WhitelistDecision, Refusal> {
        guard let set = policy.current, set.governs(.whitelist) else { return await builtin.decide(query) }
        return await set.decide(query.wire).map(WhitelistDecision.init(wire:)).mapError { failures.refusal($0, kind: .whitelist) }
    }
}

/// The fees module as the core's tariff. No fees module configured: nothing is charged. A
/// configured module that fails fails the operation closed rather than letting it go unbilled.
struct ModuleTariff: Tariff {
    let policy: PolicyHost
    let failures: PolicyFailureLog

    func price(_ operation: FeeCharge.Operation, payer: Organisation, bpID: String, atMs: Int64) async -> Result<Price?, Refusal> {
        guard policy.current?.governs(.fees) == true else { return .success(nil) }
        var query = LCFeeQuery()
        query.operation = switch operation {
            case .mediation: .mediation
            case .linkIssuance: .linkIssuance
            case .eventDelivery: .eventDelivery
        }
        query.payer = payer.ref.wire
        query.atMs = atMs
        query.bpID = bpID
        return await policy.decide(query)
            .mapError { failures.refusal($0, kind: .fees) }
            .map { decision in decision.chargeable ? Price(amountYen: decision.amountYen, tariffID: decision.tariffID) : nil }
    }
}
