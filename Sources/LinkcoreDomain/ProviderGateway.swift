
/// How the core reaches provider B: the daemon sends the ProvideRequest on one of B's live
/// connections and waits for B's reply until the deadline. Kept apart from the mediator so the
/// decision logic stays free of sockets.
public protocol ProviderGateway: Sendable {
    /// B's answer; never throws: every way it can go wrong is a `ProviderReply`.
    func ask(_ providerOrg: String, _ request: ProvideRequest, timeoutMs: Int64) async -> ProviderReply
    /// Whether B has a connection that takes requests now (what `ask` would find).
    func reachable(_ providerOrg: String) -> Bool
}

extension ProviderGateway {
    public func reachable(_ providerOrg: String) -> Bool { true }
}

public enum ProviderReply: Sendable, Equatable {
    case answered([UInt8])
    /// B refused; its own code (opaque to the core) and message are relayed to A.
    case refused(providerCode: String, message: String)
    /// B has no connection that takes requests, or its connection closed before it answered.
    case unavailable
    /// B did not answer before the deadline; a later answer is dropped.
    case timedOut
}
