import Synchronization

/// What `linkctl status` and the STATUS line show about checkpoint signing.
final class AuditHealth: Sendable {
    struct State: Sendable {
        var refusals: UInt64 = 0
        var problem: String?
        var signedPosition: UInt64 = 0
    }

    private let state = Mutex(State())

    var snapshot: State { state.withLock { $0 } }

    func refused(_ why: String) { state.withLock { $0.refusals += 1; $0.problem = why } }
    func succeeded() { state.withLock { $0.problem = nil } }
    func signed(_ position: UInt64) { state.withLock { $0.signedPosition = position } }
}
