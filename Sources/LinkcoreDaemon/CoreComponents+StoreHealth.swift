import Logging
import Synchronization

/// The store's health in the log (issue 17, item 5): a full disk or an I/O error under the
/// database (or PostgreSQL out of reach) is logged at error level when it starts and at notice
/// level when it ends, once each, from the STATUS refresher's tick; STATUS says NOT READY
/// meanwhile (`statusLine`).
final class StoreHealthLatch: Sendable {
    private let reported = Mutex<String?>(nil)

    /// The change to log since the last call: (new problem or nil when it ended), or nil if none.
    func change(to problem: String?) -> String?? {
        reported.withLock { last in
            guard last != problem else { return nil }
            last = problem
            return .some(problem)
        }
    }
}

extension CoreComponents {
    func logStoreHealth() {
        guard let change = storeHealthLogged.change(to: store.unavailability) else { return }
        if let problem = change {
            logger.error("store NOT READY: requests that need it are refused UNAVAILABLE", metadata: ["problem": "\(problem)"])
        } else {
            logger.notice("store ready again")
        }
    }
}
