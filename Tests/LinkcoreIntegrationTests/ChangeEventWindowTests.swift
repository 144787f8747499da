import Foundation
import LinkcoreSQLite
import LinkcoreWire
import Testing

/// Issue 12, finding 7(c) with real processes: with a delivery window, each receiver's event
/// is released at a random time within the window that the core records in its outbox
/// (`due_at`); it still arrives, no earlier than that, is acknowledged once, and a batch still
/// waiting when the core is killed keeps its release time and is delivered after the restart.
extension ChangeEventTests {
    struct Released: Equatable {
        var dueAt: Int64
        var createdAt: Int64
        var ackedAt: Int64?
    }

    /// The outbox as the core recorded it, by event id (read-only, beside the running daemon).
    func outbox(_ daemon: DaemonProcess) throws -> [String: Released] {
        let db = try SQLiteDatabase(path: daemon.temp.url.appendingPathComponent("state/linkcore.sqlite").path, readOnly: true)
        var rows: [String: Released] = [:]
        for row in try db.query("SELECT event_id, due_at, created_at, acked_at FROM event_outbox") {
            guard let id = row.string(0), let due = row.int(1), let created = row.int(2) else { continue }
            rows[id] = Released(dueAt: due, createdAt: created, ackedAt: row.int(3))
        }
        return rows
    }

    @Test func eventsInADeliveryWindowArriveNoEarlierThanTheirReleaseOnceAndSurviveKillDashNine() async throws {
        let window: Int64 = 1_500
        let network = try await startNetwork([("CITY01", .agency, .public), ("BANK01", .privateConnector, .private)], windowMs: window)
        defer { network.matcher.signal(SIGKILL) }
        let daemon = network.daemon
        let codes = ["CITY01": try await network.link(Self.alice, to: "CITY01"), "BANK01": try await network.link(Self.alice, to: "BANK01")]

        // Both connected: each gets its event, under its own code, not before its release.
        var inboxes = ["CITY01": EventInbox(), "BANK01": EventInbox()]
        var connections = [try await network.connect("CITY01", inbox: inboxes["CITY01"]),
                           try await network.connect("BANK01", inbox: inboxes["BANK01"])]
        try await network.change(Self.alice, ["--moved", "東京都港区芝公園4丁目2番8号"])
        for (org, inbox) in inboxes {
            let event = try #require(try await inbox.wait(count: 1, org).first)
            #expect(event.linkCode == codes[org])
        }
        let delivered = try await waitStatus(daemon) { $0.eventsDelivered == 2 }
        #expect(delivered.eventsPending == 0)
        var recorded = try outbox(daemon)
        #expect(recorded.count == 2)
        for (org, inbox) in inboxes {
            #expect(inbox.received.count == 1, "\(org): acknowledged once, not sent again")
            for (id, arrived) in inbox.arrivals.withLock({ $0 }) {
                let row = try #require(recorded[id])
                #expect(row.dueAt >= row.createdAt && row.dueAt < row.createdAt + window, "\(org): release \(row.dueAt - row.createdAt) ms after the report")
                #expect(arrived >= row.dueAt, "\(org): arrived \(row.dueAt - arrived) ms before its release")
                #expect(row.ackedAt.map { $0 >= row.dueAt } == true)
            }
        }
        for connection in connections { await connection.close() }

        // Both away: the next change waits in the outbox with its release times; the core is
        // killed; after the restart the same rows (same release times) are delivered once.
        try await network.change(Self.alice, ["--renamed", "山田 花", "--kana", "ヤマダ ハナ"])
        try await network.waitReported(2)
        let before = try outbox(daemon).filter { $0.value.ackedAt == nil }
        #expect(before.count == 2)
        daemon.signal(SIGKILL)
        _ = try await daemon.waitForExit()
        try await daemon.restart()
        #expect(try await daemon.status().eventsPending == 2)
        recorded = try outbox(daemon)
        #expect(before.allSatisfy { recorded[$0.key]?.dueAt == $0.value.dueAt }, "release times are kept, not drawn again")

        inboxes = ["CITY01": EventInbox(), "BANK01": EventInbox()]
        connections = [try await network.connect("CITY01", inbox: inboxes["CITY01"]),
                       try await network.connect("BANK01", inbox: inboxes["BANK01"])]
        for (org, inbox) in inboxes {
            let event = try #require(try await inbox.wait(count: 1, "\(org) after restart").first)
            #expect(event.linkCode == codes[org])
            #expect(before[event.eventID] != nil)
        }
        let after = try await waitStatus(daemon) { $0.eventsDelivered == 4 }
        #expect(after.eventsPending == 0)
        recorded = try outbox(daemon)
        for (org, inbox) in inboxes {
            #expect(inbox.received.count == 1, "\(org): once after the restart")
            for (id, arrived) in inbox.arrivals.withLock({ $0 }) {
                #expect(arrived >= (recorded[id]?.dueAt ?? .max), "\(org): not before its release")
            }
        }
        for connection in connections { await connection.close() }
    }
}
