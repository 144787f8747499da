import Foundation
import LinkcoreDomain
import LinkcoreStore
import Logging

/// Forgets idempotency keys once their window has passed (protocol.md §8): at start, then
/// hourly. A key past its window is already ignored by lookups; purging only keeps the table
/// from growing with every mediation ever keyed.
struct MediationKeyJanitor: Sendable {
    let store: any CoreStore
    let logger: Logger
    /// The mediator's key clock: a step of the wall clock forward must not purge a key whose
    /// window has not passed in real time (a retry would then run twice).
    let clock: StepSafeClock

    /// Purges the keys older than `window`; ran by the daemon at start, then hourly.
    func purge(window: Duration) async {
        let cutoff = clock.earliestMs() - Int64(window / .milliseconds(1))
        do {
            let purged = try await store.purgeMediationKeys(beforeMs: cutoff)
            if purged > 0 { logger.info("expired idempotency keys purged", metadata: ["keys": "\(purged)"]) }
        } catch {
            logger.warning("cannot purge expired idempotency keys", metadata: ["error": "\(error)"])
        }
    }
}
