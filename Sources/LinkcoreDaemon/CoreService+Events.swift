import LinkcoreDomain
import LinkcoreTransport
import LinkcoreWire

/// Change events on the network: ReportChange from the matcher; FetchEvents and AckEvents
/// from organisations that hold links.
extension CoreService {
    /// Handles the request if it is about change events; false if it is not.
    func handleEvents(_ request: LCEnvelope, from peer: Peer, reply: Reply) -> Bool {
        switch request.body {
        case let .reportChange(change)?:
            guard peer.role == .matcher else { reply.fail(Self.roleRefusal(peer, request)); return true }
            Task {
                switch await events.report(ChangeReport(wire: change), reporter: peer.orgCode) {
                case let .success(fanout):
                    // Durable before this reply; the pushes follow it, each receiver's at its
                    // own release time (the kick pushes what is due and schedules the rest).
                    reply(.reportChangeResponse(.with { $0.eventsQueued = fanout.eventsQueued }))
                    for org in fanout.receivers { await dispatcher.kick(org) }
                case let .failure(refusal):
                    reply.fail(WireError(refusal))
                }
            }
        case let .fetchEvents(fetch)?:
            guard peer.holdsLinks else { reply.fail(Self.roleRefusal(peer, request)); return true }
            Task { reply(await events.fetch(orgCode: peer.orgCode, max: fetch.max).wire { events in .fetchEventsResponse(.with { $0.events = events.map(\.wire) }) }) }
        case let .ackEvents(ack)?:
            guard peer.holdsLinks else { reply.fail(Self.roleRefusal(peer, request)); return true }
            Task {
                reply(await events.acknowledge(orgCode: peer.orgCode, eventIDs: ack.eventIds)
                    .wire { n in .ackEventsResponse(.with { $0.acknowledged = UInt32(clamping: n) }) })
            }
        default:
            return false
        }
        return true
    }
}
