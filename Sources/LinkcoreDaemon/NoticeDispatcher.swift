import LinkcoreDomain
import LinkcoreTransport
import LinkcoreWire
import Logging

/// Pushes accepted notices to the portal's connection (oldest first), at least once.
///
/// The outbox in the store is the only queue: a drain reads a bounded batch, pushes each notice
/// and records each acknowledgement as it comes, then reads the next batch. One drain runs per
/// portal at a time; a kick during a drain makes it go round once more. A notice refused, failed
/// or unanswered stays pending and ends the drain: it goes again on the next kick (a new notice,
/// the portal's reconnect, the periodic sweep). Nothing here holds a notice only in memory, so a
/// core killed at any point loses nothing it replied to.
public actor NoticeDispatcher {
    private let notices: NoticeService
    private let pusher: Pusher
    private let logger: Logger
    private let batchSize: Int
    private var running: Set<String> = []
    private var again: Set<String> = []

    public init(notices: NoticeService, pusher: Pusher, logger: Logger, batchSize: Int = 64) {
        self.notices = notices
        self.pusher = pusher
        self.logger = logger
        self.batchSize = batchSize
    }

    public func kick(_ portal: String) {
        guard !running.contains(portal) else {
            again.insert(portal)
            return
        }
        running.insert(portal)
        Task { await self.loop(portal) }
    }

    /// The connected portal, if any: for notices whose push failed while it stayed connected.
    public func sweep() {
        if let portal = notices.portal?.code, pusher.channels(of: portal).first != nil { kick(portal) }
    }

    private func loop(_ portal: String) async {
        repeat {
            again.remove(portal)
            await drain(portal)
        } while again.contains(portal)
        running.remove(portal)
    }

    private nonisolated func drain(_ portal: String) async {
        var after: Int64 = 0
        while let channel = pusher.channels(of: portal).first {
            guard case let .success(batch) = await notices.pending(portal: portal, afterSeq: after, limit: batchSize),
                  let last = batch.last else { return }
            let delivered = await withTaskGroup(of: Bool.self) { group in
                for (_, notice) in batch {
                    group.addTask {
                        guard let reply = try? await self.pusher.request(.deliverNotice(notice.wire), on: channel),
                              case .deliverNoticeAck? = reply.body else { return false }
                        // Recorded before the next batch is read, so an acknowledged notice is
                        // never pushed again by this drain; a failure here means one more push later.
                        guard case .success = await self.notices.acknowledge(portal: portal, noticeID: notice.noticeID) else { return false }
                        return true
                    }
                }
                var all = true
                for await ok in group where !ok { all = false }
                return all
            }
            guard delivered else {
                logger.info("notices not acknowledged by the portal; kept for later", metadata: ["portal": "\(portal)"])
                return
            }
            after = last.seq
        }
    }
}
