import Foundation
import LinkcoreClient
import LinkcoreRegistry
import LinkcoreTLS
import LinkcoreTransport
import LinkcoreWire
import Logging
import NIOCore
import Synchronization

/// The matching authority on the network: organisations send the four basic facts (or a My
/// Number) with a consent reference; exactly one match yields a one-time matching number, and
/// the matcher asks the core to issue that organisation's link. The core never sees the facts.
struct MatcherService: RequestHandling {
    let matcher: Matcher
    let core: CoreLink
    let figures: MatcherFigures
    /// Counts requests by body and outcome for the `[metrics]` scrape.
    let metrics: Metrics
    let failedMatches: FailedMatchLimiter
    /// Links made by card; nil when `[card] ca_bundle` is not configured.
    let cards: CardLinks?
    let logger: Logger

    func admit(orgCode: String) -> Result<LCRole, WireError> {
        // Any organisation with a network certificate may connect; each match request is
        // checked with the core first (`requesterRefusal`), before any matching.
        .success(.unspecified)
    }

    func handle(_ request: LCEnvelope, from peer: Peer, reply: Reply) {
        let reply = metrics.countingReplies(to: request, reply)  // linkcore_requests_total{body,outcome}
        guard case let .matchRequest(match)? = request.body else {
            return reply.fail(WireError(.unknownMessage, "\(request.bodyName) is not served by the matcher"))
        }
        Task {
            let result = await self.match(match, orgCode: peer.orgCode)
            figures.record(result)
            reply(result)
        }
    }

    func match(_ request: LCMatchRequest, orgCode: String) async -> Result<LCEnvelope.OneOf_Body, WireError> {
        // The requester first, then its failure budget: neither depends on the facts, so an
        // organisation that may not match, or has failed too often, learns nothing from them.
        if let refusal = await requesterRefusal(orgCode) { return .failure(refusal) }
        if let wait = failedMatches.retryAfter(orgCode) {
            let ms = UInt32(clamping: max(1, Int((wait / .milliseconds(1)).rounded(.up))))
            return .failure(WireError(.rateLimited, "\(failedMatches.limit) failed matches within \(failedMatches.window / .seconds(1)) s; retry later",
                                      retryAfterMs: ms))
        }
        guard !request.consentRef.isEmpty else {
            return .failure(WireError(.invalidArgument, "consent_ref is required"))
        }
        let outcome: Result<MatchTicket, MatchFailure>
        do {
            switch request.subject {
            case let .facts(f)?:
                guard let sex = Sex(parsing: f.sex) else { return .failure(WireError(.invalidArgument, "sex must be M or F")) }
                let facts = Facts(name: f.name, nameKana: f.nameKana.isEmpty ? nil : f.nameKana, address: f.address,
                                  birthDate: f.birthDate, sex: sex)
                outcome = try matcher.match(facts: facts, orgCode: orgCode, consentRef: request.consentRef)
            case let .myNumber(number)?:
                outcome = try matcher.match(myNumber: number, orgCode: orgCode, consentRef: request.consentRef)
            case let .card(card)?:
                guard let cards else {
                    return .failure(WireError(.unavailable, "this matcher takes no links by card ([card] ca_bundle is not set)", retryable: false))
                }
                // The certificate's facts are matched exactly as typed ones: same answer, same failure budget.
                switch await cards.facts(from: card, orgCode: orgCode) {
                case let .success(facts): outcome = try matcher.match(facts: facts, orgCode: orgCode, consentRef: request.consentRef)
                case let .failure(refusal): return .failure(refusal)
                }
            case nil:
                return .failure(WireError(.invalidArgument, "give the four basic facts, a My Number or a card consent"))
            }
        } catch {
            logger.error("registry failure", metadata: ["error": "\(error)"])
            return .failure(WireError(.unavailable, "the registry is unavailable"))
        }
        let ticket: MatchTicket
        switch outcome {
        case let .success(t): ticket = t
        case .failure(.noUniqueMatch):
            failedMatches.recordFailure(orgCode)
            return .failure(WireError(.matchFailed, "no unique resident matches"))
        case let .failure(.invalidInput(why)):
            return .failure(WireError(.invalidArgument, why))
        case .failure(.invalidMatchingNumber):
            return .failure(WireError(.invalidMatchingNumber, "matching number refused"))
        }
        // Steps 5-6: the core issues the link and delivers it to the organisation.
        var issue = LCIssueLinkRequest()
        issue.residentCode = ticket.residentCode
        issue.orgCode = orgCode
        issue.matchingNumber = ticket.matchingNumber
        issue.expiresAtMs = Int64(ticket.expiresAt.timeIntervalSince1970 * 1000)
        do {
            _ = try matcher.consume(matchingNumber: ticket.matchingNumber, orgCode: orgCode)
            logger.info("matched; asking the core to issue the link", metadata: ["org": "\(orgCode)"])
            let answer = try await core.request(.issueLink(issue))
            logger.info("the core answered the issuance", metadata: ["org": "\(orgCode)", "reply": "\(answer.map { String(describing: $0) } ?? "none")"])
            guard case .issueLinkResponse? = answer else {
                return .failure(WireError(.internal, "the core answered the issuance unexpectedly"))
            }
        } catch let error as WireError {
            return .failure(error)
        } catch {
            return .failure(WireError(.unavailable, "the core is unreachable: \(error)"))
        }
        var accepted = LCMatchAccepted()
        accepted.matchingNumber = ticket.matchingNumber
        accepted.expiresAtMs = issue.expiresAtMs
        return .success(.matchAccepted(accepted))
    }
}

/// What the matcher has answered since it started, for its systemd STATUS= line.
final class MatcherFigures: Sendable {
    struct Snapshot: Sendable {
        /// Matches that gave a matching number and a link issued by the core.
        var served: UInt64 = 0
        /// Every other answer to a match request.
        var refused: UInt64 = 0
        /// Of the refusals: none or several residents matched.
        var noUniqueMatch: UInt64 = 0
    }

    private let state = Mutex(Snapshot())

    func record(_ result: Result<LCEnvelope.OneOf_Body, WireError>) {
        state.withLock { s in
            switch result {
            case .success: s.served += 1
            case let .failure(error):
                s.refused += 1
                if error.code == .matchFailed { s.noUniqueMatch += 1 }
            }
        }
    }

    var snapshot: Snapshot { state.withLock { $0 } }
}
