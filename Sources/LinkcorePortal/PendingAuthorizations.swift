import Foundation
import Synchronization

/// Authorization requests that reached the portal while the resident was logged out (issue 15,
/// item 6): parked here under the visitor's session, moved to the new session by the card login,
/// shown as that session's consent page and taken once by the consent form. The parameters
/// (client, redirect URI, state, nonce, PKCE challenge) stay on the server, so nothing the browser
/// sends after the login can change where the code goes or what it is bound to.
///
/// Memory only, by design: an entry lives minutes, and a portal restart (which loses them) only
/// sends the resident to the normal page to start again from the service. Bounded, because a
/// logged-out visitor can park one per session.
public final class PendingAuthorizations<Value: Sendable>: Sendable {
    struct Entry: Sendable {
        var value: Value
        var expires: Date
    }

    public let lifetime: TimeInterval
    public let capacity: Int
    let now: @Sendable () -> Date
    private let entries = Mutex<[String: Entry]>([:])

    public init(lifetime: TimeInterval = 600, capacity: Int = 10_000, now: @escaping @Sendable () -> Date = { Date() }) {
        self.lifetime = lifetime
        self.capacity = capacity
        self.now = now
    }

    /// Parks `value` for the session `sessionID` (its cookie value; in this process's memory
    /// only). A later request from the same visitor replaces the earlier one.
    public func park(_ value: Value, for sessionID: String) {
        let now = now()
        entries.withLock { entries in
            if entries[sessionID] == nil, entries.count >= capacity {
                entries = entries.filter { $0.value.expires > now }
                // Still full: the entry closest to its end makes room (oldest first).
                if entries.count >= capacity, let oldest = entries.min(by: { $0.value.expires < $1.value.expires }) {
                    entries[oldest.key] = nil
                }
            }
            entries[sessionID] = Entry(value: value, expires: now.addingTimeInterval(lifetime))
        }
    }

    /// At login: the visitor's parked request now belongs to the new session (the visitor's
    /// session ends). Keeps the original expiry. False: nothing live was parked.
    public func move(from visitor: String, to session: String) -> Bool {
        let now = now()
        return entries.withLock { entries in
            guard let entry = entries.removeValue(forKey: visitor), entry.expires > now else { return false }
            entries[session] = entry
            return true
        }
    }

    /// The session's live request, left in place (the consent page may be reloaded).
    public func peek(_ sessionID: String) -> Value? {
        let now = now()
        return entries.withLock { entries in
            guard let entry = entries[sessionID] else { return nil }
            guard entry.expires > now else { entries[sessionID] = nil; return nil }
            return entry.value
        }
    }

    /// The session's live request, removed: a consent answers it once.
    public func take(_ sessionID: String) -> Value? {
        let now = now()
        return entries.withLock { entries in
            guard let entry = entries.removeValue(forKey: sessionID), entry.expires > now else { return nil }
            return entry.value
        }
    }

    public var count: Int { entries.withLock { $0.count } }
}
