import LinkcoreDomain
import LinkcoreStore
import LinkcoreTransport
import LinkcoreWire
import Logging
import NIOCore

/// Routes each request to the domain service that owns it, after checking that the peer's
/// role may send it. Runs on the connection's event loop; domain work continues in tasks and
/// replies through `Reply` from wherever it finishes.
public struct CoreService: RequestHandling {
    let links: LinkService
    let mediator: Mediator
    let accessLog: AccessLogService
    let pusher: Pusher
    let events: EventService
    let dispatcher: EventDispatcher
    let notices: NoticeService
    let noticeDispatcher: NoticeDispatcher
    let serviceLinks: ServiceLinkService
    let fees: FeeStatements
    let metrics: Metrics
    let logger: Logger
    let refusalLines = LogThrottle()
    var faults = FaultInjection.none

    public func admit(orgCode: String) -> Result<LCRole, WireError> {
        links.orgs.admit(orgCode).wire(\.wire)
    }

    public func handle(_ request: LCEnvelope, from peer: Peer, reply: Reply) {
        let reply = metrics.countingReplies(to: request, reply)  // linkcore_requests_total{body,outcome}
        if handleEvents(request, from: peer, reply: reply) { return }
        if handleServiceLinks(request, from: peer, reply: reply) { return }
        switch request.body {
        case let .issueLink(issue)?:
            guard peer.role == .matcher else { return reply.fail(Self.roleRefusal(peer, request)) }
            Task {
                switch await links.issue(IssueLinkRequest(wire: issue)) {
                case let .success((created, issued)):
                    reply(.issueLinkResponse(.with { $0.created = created }))
                    await deliver(issued.wire, to: issue.orgCode)
                case let .failure(refusal):
                    reply.fail(WireError(refusal))
                }
            }
        case let .fetchLink(fetch)?:
            guard peer.holdsLinks else { return reply.fail(Self.roleRefusal(peer, request)) }
            Task { reply(await links.fetch(matchingNumber: fetch.matchingNumber, orgCode: peer.orgCode).wire { issued in .fetchLinkResponse(.with { $0.link = issued.wire }) }) }
        case let .unlink(unlink)?:
            guard peer.holdsLinks else { return reply.fail(Self.roleRefusal(peer, request)) }
            Task { reply(await links.unlink(code: unlink.linkCode, orgCode: peer.orgCode).wire { at in .unlinkResponse(.with { $0.unlinkedAtMs = at }) }) }
        case let .mediate(mediate)?:
            guard peer.mayMediate else { return reply.fail(Self.roleRefusal(peer, request)) }
            Task { await self.mediate(mediate, from: peer, reply: reply) }
        case let .sendNotice(send)?:
            guard peer.mayMediate else { return reply.fail(Self.roleRefusal(peer, request)) }
            Task {
                switch await notices.send(NoticeRequest(wire: send), sender: peer.orgCode) {
                case let .success(receipt):
                    // Durable (outbox and access-log entry) before this reply; the push follows.
                    reply(.sendNoticeResponse(receipt.wire))
                    await noticeDispatcher.kick(receipt.portal)
                    logger.debug("notice accepted", metadata: [
                        "notice_id": "\(receipt.noticeID)", "sender": "\(peer.orgCode)", "type": "\(PeerText.safe(send.noticeType))",
                        "repeated": "\(receipt.repeated)",
                    ])  // never the title or the body
                case let .failure(refusal):
                    reply.fail(WireError(refusal))
                }
            }
        case let .accessLogQuery(query)?:
            guard peer.role == .portal else { return reply.fail(Self.roleRefusal(peer, request)) }
            Task { reply(await accessLog.page(AccessLogQuery(wire: query), portal: peer.orgCode).wire { .accessLogPage($0.wire) }) }
        case let .linkHoldersQuery(query)?:
            guard peer.role == .portal else { return reply.fail(Self.roleRefusal(peer, request)) }
            Task {
                reply(await accessLog.linkHolders(linkCode: query.linkCode, portal: peer.orgCode).wire { holders in
                    .linkHoldersResponse(.with { $0.holders = holders.map(\.wire) })
                })
            }
        case let .ownFeesStatement(own)?:
            // The statement of the certificate's organisation, never another's: the payer is
            // taken from the session, so the request has no organisation field to forge.
            guard peer.mayMediate else { return reply.fail(Self.roleRefusal(peer, request)) }
            Task { reply(await fees.statement(orgCode: peer.orgCode, period: own.period).wire { .feesStatementResponse($0.wire) }) }
        case let .orgShow(show)?:
            // The matcher checks a requester's standing before it matches (issue 12, finding
            // 7b): registered, not suspended, a role that holds links. The card authority checks
            // that a requester is a licensed verifier before it answers (issue 14). Only that much
            // is given (never the name), and only to those two roles; for everyone else it stays
            // an operator message.
            guard peer.role == .matcher || peer.role == .cardAuthority else {
                return reply.fail(WireError(.permissionDenied, "operator messages are accepted only on the admin socket"))
            }
            guard let org = links.orgs[show.code] else { return reply.fail(WireError(.orgUnknown, "organisation is not registered")) }
            reply(.orgResponse(.with { response in
                response.org = .with {
                    $0.code = org.code; $0.role = org.role.wire; $0.sector = org.sector.wire; $0.suspended = org.suspended
                    $0.licensedVerifier = org.licensedVerifier
                }
            }))
        default:
            reply.fail(WireError(.unknownMessage, "\(request.bodyName) is not served by this core"))
        }
    }

    public func sessionStarted(_ peer: Peer, channel: any Channel, acceptsPushes: Bool) {
        guard acceptsPushes, peer.holdsLinks else { return }
        // Notices that waited for the portal (never sent, or not acknowledged) go out now.
        if peer.role == .portal { Task { [noticeDispatcher] in await noticeDispatcher.kick(peer.orgCode) } }
        // Change events that waited (unacknowledged, or never sent) go out now, oldest first.
        Task { [dispatcher] in await dispatcher.kick(peer.orgCode) }
        // Links issued while the organisation was away are delivered now, oldest first.
        Task {
            for issued in await links.undelivered(orgCode: peer.orgCode) {
                guard await push(issued.wire, on: channel, org: peer.orgCode) else { break }
            }
        }
    }

    /// Pushes a new link to one connection of the organisation that takes pushes. If none is
    /// connected, or none acknowledges, the link waits in the store for a reconnect or FetchLink.
    private func deliver(_ issued: LCLinkIssued, to orgCode: String) async {
        for channel in pusher.channels(of: orgCode) where await push(issued, on: channel, org: orgCode) {
            return
        }
    }

    private func push(_ issued: LCLinkIssued, on channel: any Channel, org: String) async -> Bool {
        do {
            let reply = try await pusher.request(.linkIssued(issued), on: channel)
            guard case .linkIssuedAck? = reply.body else {
                logger.info("link delivery refused by organisation", metadata: ["org": "\(org)", "reply": "\(reply.bodyName)"])
                return false
            }
            await links.acknowledge(matchingNumber: issued.matchingNumber, orgCode: org)
            return true
        } catch {
            logger.info("link delivery failed; kept for later", metadata: ["org": "\(org)", "error": "\(error)"])
            return false
        }
    }

    /// Relay completes, the entry is durable, then A gets its reply (or nothing, if A has gone).
    private func mediate(_ request: LCMediateRequest, from peer: Peer, reply: Reply) async {
        let started = ContinuousClock.now
        let mediation = await mediator.mediate(MediationRequest(wire: request), requester: peer.orgCode)
        if mediation.logged { faults.mediationLogged() }
        reply(mediation.reply.wire { .mediateResponse($0.wire) })
        guard let outcome = mediation.outcome else { return }
        let elapsed = (ContinuousClock.now - started).components
        metrics.mediation(outcome.wire,
                          micros: UInt64(max(0, elapsed.seconds * 1_000_000 + elapsed.attoseconds / 1_000_000_000_000)))
        logger.debug("mediation decided", metadata: [
            "mediation_id": "\(mediation.id)", "outcome": "\(outcome)", "rule": "\(mediation.ruleID ?? "-")", "logged": "\(mediation.logged)",
            "repeated": "\(mediation.repeated)",
        ])
        if !mediation.logged, let suppressed = refusalLines.admit(peer.orgCode) {
            // No resident to key an entry by (LA did not open to a live link of A's): a line
            // without the link code, so the operator still sees refusals and who caused them
            // (throttled per requester; the status counters count every one).
            logger.notice("mediation refused before a resident was known", metadata: [
                "mediation_id": "\(mediation.id)", "requester": "\(peer.orgCode)", "provider": "\(PeerText.safe(request.providerOrg))",
                "bp_id": "\(PeerText.safe(request.bpID))", "info_type": "\(PeerText.safe(request.infoType))", "outcome": "\(outcome)",
                "suppressed_before": "\(suppressed)",
            ])
        }
    }

    static func roleRefusal(_ peer: Peer, _ request: LCEnvelope) -> WireError {
        WireError(.permissionDenied, "role \(peer.role) may not send \(request.bodyName)")
    }
}

extension Peer {
    /// Organisations that hold links of their own: agencies, private connectors, the portal.
    var holdsLinks: Bool { [.agency, .privateConnector, .portal].contains(role) }
    /// Organisations that ask and answer for information: agencies and private connectors.
    var mayMediate: Bool { [.agency, .privateConnector].contains(role) }
}
