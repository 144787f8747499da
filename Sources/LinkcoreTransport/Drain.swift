import LinkcoreWire
import NIOCore

extension ConnectionRegistry {
    /// Ends the sessions `matching` (an organisation just suspended, a certificate just
    /// revoked) with `error` (id 0) and closes them; returns how many.
    @discardableResult
    public func endSessions(with error: WireError, matching: (Entry) -> Bool) -> Int {
        let ended = entries.filter(matching)
        for entry in ended {
            entry.channel.triggerUserOutboundEvent(EndSessionEvent(error: error), promise: nil)
        }
        return ended.count
    }

    /// Asks every connection to drain (GoingAway, finish what is in flight, close), waits until
    /// all have closed or `timeout` has passed, then closes the rest. Returns how many were left
    /// to close by force. Stop accepting new connections first.
    public func drain(within timeout: Duration) async -> Int {
        let drainMs = UInt32(clamping: Int64(timeout / .milliseconds(1)))
        for entry in entries {
            entry.channel.triggerUserOutboundEvent(DrainEvent(drainMs: drainMs), promise: nil)
        }
        // Whichever comes first: the last connection gone, or the timeout.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitUntilEmpty() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        let left = entries
        for entry in left { try? await entry.channel.close() }
        return left.count
    }
}
