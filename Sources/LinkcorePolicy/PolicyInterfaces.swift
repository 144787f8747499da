import LinkcoreWire

// The daemon asks these, never a module directly: whether a decision comes from a loaded shared
// object, a test double or a built-in table is invisible to the request path. A failure is a
// typed PolicyError that the caller turns into POLICY_FAILURE, failing closed.
//
// Each question is async: the task is suspended, not its thread, while a module works, so a hung
// module never holds a thread of the cooperative pool. (A synchronous form that blocked its
// thread until the deadline had no caller on the request path and is gone.)

/// May this BP-ID let the requester ask the provider for this information type? (Named apart
/// from LinkcoreDomain's `Whitelist`, which the mediator asks; the daemon bridges the two.)
public protocol WhitelistPolicy: Sendable {
    func decide(_ query: LCWhitelistQuery) async -> Result<LCWhitelistDecision, PolicyError>
}

/// What does this operation cost its payer (受益者負担)?
public protocol FeePolicy: Sendable {
    func decide(_ query: LCFeeQuery) async -> Result<LCFeeDecision, PolicyError>
}

/// Does this receiver get this change event, when, and with its kind? (Named apart from
/// LinkcoreDomain's `EventRouting`, which the event service asks; the daemon bridges the two.)
public protocol EventPolicy: Sendable {
    func decide(_ query: LCEventRoutingQuery) async -> Result<LCEventRoutingDecision, PolicyError>
}
