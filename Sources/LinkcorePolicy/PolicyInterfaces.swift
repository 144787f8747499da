import LinkcoreWire

// The daemon asks these, never a module directly: whether a decision comes from a loaded shared
// object, a test double or a built-in table is invisible to the request path. Every call is
// synchronous and returns within the host's deadline (plus scheduling); a failure is a typed
// PolicyError that the caller turns into POLICY_FAILURE, failing closed.

/// May this BP-ID let the requester ask the provider for this information type?
public protocol Whitelist: Sendable {
    func decide(_ query: LCWhitelistQuery) -> Result<LCWhitelistDecision, PolicyError>
}

/// What does this operation cost its payer (受益者負担)?
public protocol FeePolicy: Sendable {
    func decide(_ query: LCFeeQuery) -> Result<LCFeeDecision, PolicyError>
}

/// Does this receiver get this change event, when, and with its kind?
public protocol EventRouting: Sendable {
    func decide(_ query: LCEventRoutingQuery) -> Result<LCEventRoutingDecision, PolicyError>
}
