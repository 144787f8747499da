import Foundation
import LinkcoreStore
import Logging

/// Forgets idempotency keys once their window has passed (protocol.md §8): at start, then
/// hourly. A key past its window is already ignored by lookups; purging only keeps the table
/// from growing with every mediation ever keyed.
struct MediationKeyJanitor: Sendable {
    let store: any CoreStore
    let logger: Logger

    func purgeLoop(window: @escaping @Sendable () -> Duration) async {
        while !Task.isCancelled {
            let cutoff = Int64(Date().timeIntervalSince1970 * 1000) - Int64(window() / .milliseconds(1))
            do {
                let purged = try await store.purgeMediationKeys(beforeMs: cutoff)
                if purged > 0 { logger.info("expired idempotency keys purged", metadata: ["keys": "\(purged)"]) }
            } catch {
                logger.warning("cannot purge expired idempotency keys", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(3600))
        }
    }
}
