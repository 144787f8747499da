import LinkcoreDomain
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
public actor EventDispatcher {
    private let events: EventService
    private let pusher: Pusher
    private let logger: Logger
    private let batchSize: Int
    private var running: Set<String> = []
    private var again: Set<String> = []

    public init(events: EventService, pusher: Pusher, logger: Logger, batchSize: Int = 128) {
        self.events = events
        self.pusher = pusher
        self.logger = logger
        self.batchSize = batchSize
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
        repeat {
            again.remove(orgCode)
            await drain(orgCode)
        } while again.contains(orgCode)
        running.remove(orgCode)
    }

    private nonisolated func drain(_ orgCode: String) async {
        var after: Int64 = 0
        while let channel = pusher.channels(of: orgCode).first {
            guard case let .success(batch) = await events.pending(orgCode: orgCode, afterSeq: after, limit: batchSize),
                  let last = batch.last else { return }
            let acked = await withTaskGroup(of: String?.self) { group in
                for (_, event) in batch {
                    group.addTask {
                        guard let reply = try? await self.pusher.request(.changeEvent(event), on: channel),
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
                return
            }
            guard acked.count == batch.count else {
                logger.info("change events not acknowledged; kept for later",
                            metadata: ["org": "\(orgCode)", "unacknowledged": "\(batch.count - acked.count)"])
                return
            }
            after = last.seq
        }
    }
}

extension EventDispatcher {
    /// Sweeps every `period()` (`[events] sweep_interval_ms`, 30 s by default, re-read after a
    /// reload) until cancelled: a daily batch goes out within one period of its time to whoever
    /// is connected then.
    public func sweepLoop(period: @Sendable () -> Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: period())
            sweep()
        }
    }
}
