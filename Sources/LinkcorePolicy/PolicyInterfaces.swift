import LinkcoreWire

// The daemon asks these, never a module directly: whether a decision comes from a loaded shared
// object, a test double or a built-in table is invisible to the request path. A failure is a
// typed PolicyError that the caller turns into POLICY_FAILURE, failing closed.
//
// Each question comes in two forms. The synchronous one blocks its thread until the answer or
// the deadline; the async one (preferred from tasks, and chosen by the compiler there) suspends
// the task instead, so a hung module never holds a thread of the cooperative pool. An
// implementation that never blocks (an in-memory table, a test double) implements only the
// synchronous one and gets the async one from the extensions below.

/// May this BP-ID let the requester ask the provider for this information type? (Named apart
/// from LinkcoreDomain's `Whitelist`, which the mediator asks; the daemon bridges the two.)
public protocol WhitelistPolicy: Sendable {
    func decide(_ query: LCWhitelistQuery) -> Result<LCWhitelistDecision, PolicyError>
    func decide(_ query: LCWhitelistQuery) async -> Result<LCWhitelistDecision, PolicyError>
}

/// What does this operation cost its payer (受益者負担)?
public protocol FeePolicy: Sendable {
    func decide(_ query: LCFeeQuery) -> Result<LCFeeDecision, PolicyError>
    func decide(_ query: LCFeeQuery) async -> Result<LCFeeDecision, PolicyError>
}

/// Does this receiver get this change event, when, and with its kind? (Named apart from
/// LinkcoreDomain's `EventRouting`, which the event service asks; the daemon bridges the two.)
public protocol EventPolicy: Sendable {
    func decide(_ query: LCEventRoutingQuery) -> Result<LCEventRoutingDecision, PolicyError>
    func decide(_ query: LCEventRoutingQuery) async -> Result<LCEventRoutingDecision, PolicyError>
}

// The explicitly typed reference picks the synchronous overload: calling `decide` by name here
// would pick this very async function again.

extension WhitelistPolicy {
    public func decide(_ query: LCWhitelistQuery) async -> Result<LCWhitelistDecision, PolicyError> {
        let sync: (LCWhitelistQuery) -> Result<LCWhitelistDecision, PolicyError> = decide
        return sync(query)
    }
}

extension FeePolicy {
    public func decide(_ query: LCFeeQuery) async -> Result<LCFeeDecision, PolicyError> {
        let sync: (LCFeeQuery) -> Result<LCFeeDecision, PolicyError> = decide
        return sync(query)
    }
}

extension EventPolicy {
    public func decide(_ query: LCEventRoutingQuery) async -> Result<LCEventRoutingDecision, PolicyError> {
        let sync: (LCEventRoutingQuery) -> Result<LCEventRoutingDecision, PolicyError> = decide
        return sync(query)
    }
}
