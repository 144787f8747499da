import Synchronization

/// Decides whether a business process permits a requester to ask a provider for an information
/// type (the statutory table of permitted exchanges, 別表第2). The mediator asks only this
/// interface, so a loadable policy module can replace the built-in table without changing callers.
/// Both are the same engine, `WhitelistTable` (LinkcorePolicyTables): the daemon runs it in
/// process for the built-in CSV table and behind the module ABI for the whitelist module.
/// A failure means the policy could not decide: the core then fails closed (POLICY_FAILURE).
public protocol Whitelist: Sendable {
    func decide(_ query: WhitelistQuery) async -> Result<WhitelistDecision, Refusal>
}

/// The whitelist in force, replaced as a whole on reload (SIGHUP): a decision in progress
/// finishes with the table it started with.
public final class CurrentWhitelist: Whitelist {
    private let current: Mutex<any Whitelist>

    public init(_ initial: any Whitelist) { current = Mutex(initial) }

    public func replace(with whitelist: any Whitelist) { current.withLock { $0 = whitelist } }

    public func decide(_ query: WhitelistQuery) async -> Result<WhitelistDecision, Refusal> {
        await current.withLock { $0 }.decide(query)
    }
}
