import Foundation
import LinkcoreAudit
import LinkcoreShapes
import LinkcoreStore

/// Mediating an information request (情報提供仲介): shapes, LA → ID code, whitelist, price, LB, ask B,
/// relay (docs/protocol.md §8).
///
/// Every decision about a known resident is appended to the access log, durably, before the
/// reply is returned. A refusal before the resident is known (A's link code does not open to a
/// live link of A's) has no resident to key an entry by: it is returned with `logged == false`
/// and the daemon counts it and logs a line without the link code.
public final class Mediator: Sendable {
    public struct Settings: Sendable {
        public var defaultDeadlineMs: Int64
        public var maxDeadlineMs: Int64
        public var maxPayloadBytes: Int
        /// How long an idempotency key names its mediation (protocol.md §8).
        public var idempotencyWindowMs: Int64
        /// The largest answer of B's that is relayed: kept well below the frame limit, so that a
        /// provider cannot make A's reply frame too large and drop A's connection (issue 12, finding 10).
        public var maxAnswerBytes: Int
        public init(defaultDeadlineMs: Int64 = 5_000, maxDeadlineMs: Int64 = 30_000, maxPayloadBytes: Int = 262_144,
                    idempotencyWindowMs: Int64 = 86_400_000, maxAnswerBytes: Int = 1_044_480) {
            self.defaultDeadlineMs = defaultDeadlineMs; self.maxDeadlineMs = maxDeadlineMs; self.maxPayloadBytes = maxPayloadBytes
            self.idempotencyWindowMs = idempotencyWindowMs; self.maxAnswerBytes = maxAnswerBytes
        }
    }

    /// What came of one MediateRequest.
    public struct Mediation: Sendable {
        public var id: String
        public var reply: Result<MediationAnswer, Refusal>
        /// The decision; nil when the request was refused before any (bad argument, role).
        public var outcome: AccessOutcome?
        /// Whether an access-log entry records it (false: no resident was known).
        public var logged = false
        /// The whitelist row that permitted it, if one did.
        public var ruleID: String?
        /// An answered retry under an idempotency key: counted on the entry it repeats, not logged anew.
        public var repeated = false
    }

    private let store: any CoreStore
    private let links: LinkService
    private let whitelist: any Whitelist
    let providers: any ProviderGateway
    private let tariff: any Tariff
    let replyTimes = ProviderReplyTimes()
    public let settings: Settings
    let now: @Sendable () -> Int64
    /// Idempotency keys' windows: on this clock a wall-clock step never ends one early, so a
    /// retry after a step forward is still the same mediation (docs/reliability.md, "The clock jumps").
    let keyClock: StepSafeClock

    /// `keyClock`: by default the wall clock `now` anchored on the monotonic clock from here.
    public init(store: any CoreStore, links: LinkService, whitelist: any Whitelist, providers: any ProviderGateway,
                tariff: any Tariff = FreeTariff(), settings: Settings = Settings(),
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) },
                keyClock: StepSafeClock? = nil) {
        self.store = store; self.links = links; self.whitelist = whitelist; self.providers = providers
        self.tariff = tariff; self.settings = settings; self.now = now
        self.keyClock = keyClock ?? StepSafeClock(wallMs: now)
    }

    public static let notPermitted = Refusal(.notPermitted, "the whitelist does not permit this exchange")
    /// The access log's provider for a request that named no registered organisation.
    public static let unregisteredProvider = "-"
    static let providerUnavailable = Refusal(.providerUnavailable, "the provider is not connected", retryable: true)
    /// B's "no record" (protocol.md §8): relayed in this one form, and given in this form when B
    /// has no live link to the resident, so that A cannot tell the two apart.
    public static let noRecordCode = "NO_RECORD"
    public static let noRecord = Refusal(.providerRefused, "the provider has no record for this resident", providerCode: noRecordCode)
    /// The provider code the core sets when B's answer is above `maxAnswerBytes`.
    public static let answerTooLarge = "ANSWER_TOO_LARGE"
    public static let keyReused = Refusal(.invalidArgument, "idempotency key reused for another request")

    public func mediate(_ request: MediationRequest, requester: String) async -> Mediation {
        var result = Mediation(id: UUID().uuidString.lowercased(), reply: .failure(Self.notPermitted))
        if let problem = Self.validate(request, maxPayload: settings.maxPayloadBytes) {
            result.reply = .failure(problem)
            return result
        }
        // A key already bound names the mediation this request retries: its id is reused (B sees
        // the same mediation_id again), and a key bound to other fields is refused before anything
        // is decided or asked.
        let key = idempotencyKey(request, requester: requester)
        if let key {
            do {
                if let bound = try await store.mediationKey(key) {
                    guard bound.fingerprint == key.fingerprint else {
                        result.reply = .failure(Self.keyReused)
                        return result
                    }
                    result.id = bound.mediationID
                }
            } catch {
                result.reply = .failure(Refusal(.unavailable, "store: \(error)", retryable: true))
                return result
            }
        }
        let id = result.id
        guard let a = links.orgs[requester], a.role == .agency || a.role == .privateConnector else {
            result.reply = .failure(Refusal(.permissionDenied, "only agencies and private connectors may request information"))
            return result
        }
        guard !a.suspended else {
            result.reply = .failure(Refusal(.orgSuspended, "organisation \(a.code) is suspended"))
            return result
        }
        let startedAt = now()
        // The deadline is measured on the monotonic clock: a wall clock that jumps (an NTP step,
        // an operator's `date`) must neither cut a mediation short nor let it wait past its
        // deadline (issue 17, item 5). The wall clock dates the request, for the policies and B.
        let started = ContinuousClock.now
        // (1) LA → ID code, checked to be A's live link, before any policy module sees the
        // request: a forged code reaches no module (issue 12, finding 8). A knows which of its
        // own codes are live, so refusing them first tells A nothing about the resident.
        let opened: Link?
        do {
            opened = try await links.open(request.linkCode, orgCode: requester)
        } catch {
            result.reply = .failure(Refusal(.unavailable, "store: \(error)", retryable: true))
            return result
        }
        guard let la = opened else { return await finish(result, request, requester, key: key, link: nil, .invalidLink, .failure(LinkService.invalidLinkCode)) }
        // (2) The whitelist. An unregistered provider, or one that cannot provide, is never permitted.
        var permitted = false
        if let b = links.orgs[request.providerOrg], b.role == .agency || b.role == .privateConnector {
            switch await whitelist.decide(Self.query(request, a: a, b: b, atMs: startedAt)) {
            case let .success(decision):
                permitted = decision.permitted
                result.ruleID = decision.permitted ? decision.ruleID : nil
            case let .failure(error):
                return await finish(result, request, requester, key: key, link: la,
                                    .policyFailed, .failure(Refusal(.policyFailure, "the whitelist could not decide: \(error.message)", retryable: error.retryable)))
            }
        }
        guard permitted else { return await finish(result, request, requester, key: key, link: la, .refusedByWhitelist, .failure(Self.notPermitted)) }
        // (3) B's live link LB. A suspended provider is treated as offline.
        guard let b = links.orgs[request.providerOrg], !b.suspended else {
            return await finish(result, request, requester, key: key, link: la, .providerUnavailable, .failure(Self.providerUnavailable))
        }
        // The price, fixed before B is asked (and before LB is looked up, so that a tariff that
        // cannot decide stops the exchange whether or not B knows the resident).
        let price: Price?
        switch await tariff.price(.mediation, payer: a, bpID: request.bpID, atMs: startedAt) {
        case let .success(found): price = found
        case let .failure(error):
            return await finish(result, request, requester, key: key, link: la, .policyFailed,
                                .failure(Refusal(.policyFailure, "the tariff could not decide: \(error.message)", retryable: error.retryable)))
        }
        let lb: Link?
        do {
            lb = try await store.liveLink(idCode: la.idCode, orgCode: b.code)
        } catch {
            result.reply = .failure(Refusal(.unavailable, "store: \(error)", retryable: true))
            return result
        }
        // B not linked to the resident: A gets what B would answer for a resident it has no
        // record of, after what B's recent answers took (issue 12, finding 7a; protocol.md §8).
        guard let lb, let lbCode = try? links.code(for: lb) else {
            let reply = await answerAsProvider(b.code, deadlineMs: deadline(request.deadlineMs), started: started)
            return await finish(result, request, requester, key: key, link: la, .invalidLink, .failure(reply))
        }
        // (4) Ask B under LB, (5) relay.
        let deadlineMs = deadline(request.deadlineMs)
        let provide = ProvideRequest(mediationID: id, bpID: request.bpID, requesterOrg: requester, linkCode: lbCode,
                                     infoType: request.infoType, query: request.query, deadlineAtMs: startedAt + deadlineMs)
        let asked = ContinuousClock.now
        let reply = await providers.ask(b.code, provide, timeoutMs: max(1, Self.remainingMs(deadlineMs, since: started)))
        replyTimes.record(b.code, reply, took: ContinuousClock.now - asked)
        switch reply {
        case let .answered(answer) where answer.count > settings.maxAnswerBytes:
            // Not relayed: A hears a typed refusal on a connection that stays up. The core sets
            // the provider code, so A can tell it from B's own refusals (protocol.md §8).
            var error = Refusal(.providerRefused, "the provider's answer of \(answer.count) bytes is above the core's limit of \(settings.maxAnswerBytes) bytes")
            error.providerCode = Self.answerTooLarge
            return await finish(result, request, requester, key: key, link: la, .providerRefused, .failure(error))
        case let .answered(answer):
            let response = MediationAnswer(mediationID: id, answer: Data(answer))
            return await finish(result, request, requester, key: key, link: la, .answered, .success(response), price: price)
        case let .refused(code, _) where code == Self.noRecordCode:
            // One wording for "no record", whoever says it: B, or the core for a B not linked.
            return await finish(result, request, requester, key: key, link: la, .providerRefused, .failure(Self.noRecord))
        case let .refused(code, message):
            var error = Refusal(.providerRefused, "the provider refused: \(PeerText.safe(message, max: 200))")
            error.providerCode = PeerText.safe(code, max: 64)
            return await finish(result, request, requester, key: key, link: la, .providerRefused, .failure(error))
        case .unavailable:
            return await finish(result, request, requester, key: key, link: la, .providerUnavailable, .failure(Self.providerUnavailable))
        case .timedOut:
            return await finish(result, request, requester, key: key, link: la, .timedOut,
                                .failure(Refusal(.providerTimeout, "the provider did not answer within \(deadlineMs) ms", retryable: true)))
        }
    }

    /// What is left of a deadline of `deadlineMs` begun at `started` (negative once it passed).
    static func remainingMs(_ deadlineMs: Int64, since started: ContinuousClock.Instant) -> Int64 {
        let (seconds, attoseconds) = (ContinuousClock.now - started).components
        return deadlineMs - (seconds * 1_000 + attoseconds / 1_000_000_000_000_000)
    }

    /// Records the decision under the resident (when known), durably and with its fee when one
    /// is due (only an answered mediation is charged), then hands back the reply. If the entry
    /// cannot be written, A gets UNAVAILABLE instead: nothing is relayed unlogged or unbilled.
    /// Under an idempotency key, a retry of an answered mediation adds no entry and no fee: an
    /// answered one is counted on the entry it repeats (see `CoreStore.appendMediation`).
    private func finish(_ base: Mediation, _ request: MediationRequest, _ requester: String, key: MediationKey?, link: Link?,
                        _ outcome: AccessOutcome, _ reply: Result<MediationAnswer, Refusal>, price: Price? = nil) async -> Mediation {
        var result = base
        result.outcome = outcome
        result.reply = reply
        guard let link else { return result }
        // Only a registered provider is named in the resident's log; any other name is the
        // requester's invention and is recorded as "-" (not a valid organisation code).
        let provider = links.orgs[request.providerOrg] != nil ? request.providerOrg : Self.unregisteredProvider
        var record = AccessRecord(mediationID: base.id, idCode: link.idCode, atMs: now(), requester: requester,
                                  provider: provider, bpID: request.bpID, infoType: request.infoType, outcome: outcome)
        let charge = price?.charge(payer: requester, .mediation, reference: base.id, atMs: record.atMs)
        do {
            record.residentDigest = try links.accessDigest(link.idCode)
            if let key {
                switch try await store.appendMediation(record, charge: charge, key: key) {
                case .appended: break
                case let .repeated(boundID, _):
                    result.repeated = true
                    result.id = boundID
                    result.reply = reply.map { response in
                        var response = response
                        response.mediationID = boundID
                        response.repeated = true
                        return response
                    }
                case let .unchanged(boundID):
                    result.id = boundID
                }
            } else {
                _ = try await store.appendAccess(record, charge: charge)
            }
            result.logged = true
        } catch StoreError.idempotencyKeyReused {
            // Bound to other fields by a concurrent request since we looked: nothing was written.
            result.reply = .failure(Self.keyReused)
        } catch let StoreError.refusingWrites(why) {
            // The store's reason (a full disk, an I/O error) tells A and the operator it is the
            // machine, not the request; it names no resident.
            result.reply = .failure(Refusal(.unavailable, "the access log could not be written (\(why)); nothing was relayed", retryable: true))
        } catch {
            result.reply = .failure(Refusal(.unavailable, "the access log could not be written; nothing was relayed", retryable: true))
        }
        return result
    }
}
