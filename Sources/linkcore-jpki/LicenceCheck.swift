import LinkcoreClient
import LinkcoreWire
import NIOCore
import Synchronization

/// Whether an organisation is a licensed verifier, as the core says (`org_show`, which the core
/// answers to the card authority's role). The core is the one register of organisations: the
/// authority keeps none. Answers are cached for `cachePeriod` (30 s by default), so a licence
/// withdrawn with `linkctl org unlicense` stops answers within that period; an unreachable core
/// is never an answer (fail closed), and nothing is cached for it.
final class LicenceCheck: Sendable {
    enum Answer: Sendable, Equatable {
        /// Registered, not suspended, licensed.
        case licensed
        /// Unregistered, suspended or not licensed: one answer for all.
        case refused
        /// The core could not be asked.
        case unavailable
    }

    let core: ReconnectingConnection
    let cachePeriod: Duration
    let requestTimeout: TimeAmount
    private let cache = Mutex<[String: (licensed: Bool, at: ContinuousClock.Instant)]>([:])

    init(core: ReconnectingConnection, cachePeriod: Duration, requestTimeout: TimeAmount) {
        self.core = core
        self.cachePeriod = cachePeriod
        self.requestTimeout = requestTimeout
    }

    func check(_ orgCode: String, now: ContinuousClock.Instant = .now) async -> Answer {
        let cached = cache.withLock { entries -> Bool? in
            guard let entry = entries[orgCode], now - entry.at < cachePeriod else { return nil }
            return entry.licensed
        }
        if let cached { return cached ? .licensed : .refused }
        // The session first, on its own: a refusal of the authority's own Hello (say it is not
        // registered) is the core being unusable, not an answer about the requester.
        let connection: LinkcoreConnection
        do {
            connection = try await core.connect()
        } catch {
            return .unavailable
        }
        let licensed: Bool
        do {
            guard case let .orgResponse(response)? = try await connection.request(.orgShow(.with { $0.code = orgCode }), timeout: requestTimeout) else {
                return .unavailable
            }
            licensed = response.org.licensedVerifier && !response.org.suspended
        } catch let error as WireError where error.code == .orgUnknown {
            licensed = false
        } catch {
            return .unavailable
        }
        cache.withLock { entries in
            // Registered organisations bound the map; expired entries go as new ones come.
            entries = entries.filter { now - $0.value.at < cachePeriod }
            entries[orgCode] = (licensed, now)
        }
        return licensed ? .licensed : .refused
    }
}
