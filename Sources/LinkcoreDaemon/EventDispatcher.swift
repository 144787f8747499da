import LinkcoreDomain
import LinkcoreStore
import LinkcoreTransport
import LinkcoreWire
import Logging

/// Pushes due change events to organisations that are connected and take pushes.
///
/// The outbox in the store is the only queue: a drain reads a bounded batch (oldest first),
/// pushes it, marks what was acknowledged in one write, and reads the next, so memory stays
/// bounded however many events wait. One drain runs per organisation at a time; a kick that
/// arrives during a drain makes it go round once more. A batch with any event refused, failed
/// or unanswered ends the drain: those events stay pending for the next kick (a reconnect, a
/// new event, the periodic sweep) — at least once, never lost.
///
/// Events are due at their release time (a random time in the receiver's delivery window,
/// protocol.md §9.2). After each drain the dispatcher sets one wake-up per connected
/// organisation at its next release time, so a batch leaves when it is released, not at the
/// next sweep (a sweep kicks everyone at once and would line the receivers up again).
public actor EventDispatcher {
    private let events: EventService
    private let pusher: Pusher
    private let logger: Logger
    private let batchSize: Int
    private var running: Set<String> = []
    private var again: Set<String> = []
    /// The pending wake-up per organisation: its release time and the sleeping task.
    private var wakeups: [String: (atMs: Int64, task: Task<Void, Never>)] = [:]

    /// Several nodes: how a drain reads, by claiming the organisation's due events for this node
    /// (ClusterNode.claim); nil on a single node, which reads `events.pending`.
    public typealias Claim = @Sendable (_ orgCode: String, _ limit: Int) async -> Result<[(position: EventPosition, event: ChangeEvent)], Refusal>
    private let claim: Claim?

    public init(events: EventService, pusher: Pusher, logger: Logger, batchSize: Int = 128, claim: Claim? = nil) {
        self.events = events
        self.pusher = pusher
        self.logger = logger
        self.batchSize = batchSize
        self.claim = claim
    }

    /// Starts (or repeats) a drain of the organisation's due events.
    public func kick(_ orgCode: String) {
        guard !running.contains(orgCode) else {
            again.insert(orgCode)
            return
        }
        running.insert(orgCode)
        Task { await self.loop(orgCode) }
    }

    /// Every connected organisation that takes pushes: for daily batches falling due and for
    /// events whose push failed while the connection stayed up.
    public func sweep() {
        for org in Set(pusher.registry.entries.filter(\.acceptsPushes).map(\.orgCode)) { kick(org) }
    }

    private func loop(_ orgCode: String) async {
        var emptyAt: Int64?
        repeat {
            again.remove(orgCode)
            emptyAt = await drain(orgCode)
        } while again.contains(orgCode)
        running.remove(orgCode)
        await wakeAtNextRelease(orgCode, after: emptyAt)
    }

    /// Sets a wake-up at the organisation's next release time after `after` (when the drain
    /// last found nothing due, so that a batch released while it finished is not left to the
    /// sweep), unless an earlier wake-up is set. Only for connected organisations: a reconnect
    /// kicks anyway.
    private func wakeAtNextRelease(_ orgCode: String, after: Int64?) async {
        guard pusher.channels(of: orgCode).first != nil,
              let at = await events.nextRelease(orgCode: orgCode, after: after) else { return }
        if let set = wakeups[orgCode], set.atMs <= at { return }
        wakeups[orgCode]?.task.cancel()
        // One millisecond late rather than early: an event is due once its release time has come.
        let delay = max(at - events.releaseTimeMs(), 0) + 1
        wakeups[orgCode] = (at, Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(delay))
            guard !Task.isCancelled else { return }
            await self?.wake(orgCode, at: at)
        })
    }

    private func wake(_ orgCode: String, at: Int64) {
        if wakeups[orgCode]?.atMs == at { wakeups[orgCode] = nil }
        kick(orgCode)
    }

    /// Cancels every wake-up (at shutdown); the events stay in the outbox.
    public func stop() {
        for wakeup in wakeups.values { wakeup.task.cancel() }
        wakeups.removeAll()
    }

    /// Pushes what is due; returns the time just before the read that found nothing more due,
    /// or nil when it stopped for another reason (no connection, a failure).
    private nonisolated func drain(_ orgCode: String) async -> Int64? {
        var after: EventPosition?
        while let channel = pusher.channels(of: orgCode).first {
            let readAt = events.releaseTimeMs()
            let read = if let claim { await claim(orgCode, batchSize) } else { await events.pending(orgCode: orgCode, after: after, limit: batchSize) }
            guard case let .success(batch) = read else { return nil }
            guard let last = batch.last else { return readAt }
            let acked = await withTaskGroup(of: String?.self) { group in
                for (_, event) in batch {
                    group.addTask {
                        guard let reply = try? await self.pusher.request(.changeEvent(event.wire), on: channel),
                              case .changeEventAck? = reply.body else { return nil }
                        return event.eventID
                    }
                }
                var ids: [String] = []
                for await id in group { if let id { ids.append(id) } }
                return ids
            }
            if case let .failure(error) = await events.acknowledge(orgCode: orgCode, eventIDs: acked) {
                logger.warning("could not record event acknowledgements; they will be sent again", metadata: ["org": "\(orgCode)", "error": "\(error)"])
                return nil
            }
            guard acked.count == batch.count else {
                logger.info("change events not acknowledged; kept for later",
                            metadata: ["org": "\(orgCode)", "unacknowledged": "\(batch.count - acked.count)"])
                return nil
            }
            after = last.position
        }
        return nil
    }
}
