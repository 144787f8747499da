import Foundation
import LinkcoreCardVerifier
import LinkcoreClient
import LinkcoreTLS
import LinkcoreWire
import Logging
import NIOCore
import Synchronization

/// An organisation's adapter: its link table, its backend and its sessions with the core and
/// the matcher. The local HTTP API (`LocalAPI`) calls into this; the core's pushes arrive in
/// `handlePush`. Everything the organisation's systems see is in terms of their own person IDs.
public final class AdapterService: Sendable {
    public struct Settings: Sendable {
        public var orgCode: String
        public var core: CoreEndpoint
        public var matcher: CoreEndpoint?
        public var backoff: CoreSession.Backoff
        public var requestTimeout: Duration
        public var matcherTimeout: Duration
        public var linkWait: Duration
        public init(orgCode: String, core: CoreEndpoint, matcher: CoreEndpoint?, backoff: CoreSession.Backoff,
                    requestTimeout: Duration, matcherTimeout: Duration, linkWait: Duration) {
            self.orgCode = orgCode; self.core = core; self.matcher = matcher; self.backoff = backoff
            self.requestTimeout = requestTimeout; self.matcherTimeout = matcherTimeout; self.linkWait = linkWait
        }
    }

    public let settings: Settings
    public let links: LinkTable
    public let backend: any AnswerBackend
    /// Card logins (`[card]`); nil: the card routes answer CARD_NOT_CONFIGURED.
    public let card: CardLoginVerifier?
    let logger: Logger
    private let session = Mutex<CoreSession?>(nil)
    public let provided = Atomic<Int>(0)
    public let eventsReceived = Atomic<Int>(0)

    public init(settings: Settings, links: LinkTable, backend: any AnswerBackend, card: CardLoginVerifier? = nil, logger: Logger) {
        self.settings = settings
        self.links = links
        self.backend = backend
        self.card = card
        self.logger = logger
    }

    var core: CoreSession {
        get throws(WireError) {
            guard let session = session.withLock({ $0 }) else { throw WireError(.unavailable, "the adapter is starting") }
            return session
        }
    }

    /// Runs the core session (reconnecting) until `stop()`.
    public func run(onConnected: @escaping @Sendable () -> Void = {}) async {
        let session = CoreSession(
            endpoint: settings.core, orgCode: settings.orgCode, backoff: settings.backoff, logger: logger
        ) { [self] request in await handlePush(request) }
        self.session.withLock { $0 = session }
        await session.run(onConnected: onConnected)
    }

    public func stop() async {
        await session.withLock({ $0 })?.stop()
    }

    public var coreState: CoreSession.State { session.withLock { $0 }?.state ?? CoreSession.State() }

    // MARK: Pushes from the core

    func handlePush(_ request: LCEnvelope) async -> Result<LCEnvelope.OneOf_Body, WireError> {
        switch request.body {
        case let .provide(provide)?:
            return await answer(provide)
        case let .linkIssued(issued)?:
            do {
                // Stored (durably) before the ack: an ack is the core's licence to forget it.
                try await links.storeIssued(matchingNumber: issued.matchingNumber, linkCode: issued.linkCode,
                                            keyIndex: Int(issued.keyIndex), linkedAtMs: issued.linkedAtMs)
                return .success(.linkIssuedAck(LCLinkIssuedAck()))
            } catch {
                logger.error("cannot store an issued link", metadata: ["error": "\(error)"])
                return .failure(WireError(.unavailable, "the adapter cannot store the link now"))
            }
        case let .changeEvent(event)?:
            do {
                if try await links.storeEvent(eventID: event.eventID, linkCode: event.linkCode,
                                              kind: Self.kindName(event.kind), occurredAtMs: event.occurredAtMs) {
                    eventsReceived.add(1, ordering: .relaxed)
                }
                return .success(.changeEventAck(LCChangeEventAck()))
            } catch {
                // No ack: the core keeps the event and pushes it again.
                logger.error("cannot store a change event", metadata: ["error": "\(error)"])
                return .failure(WireError(.unavailable, "the adapter cannot store the event now"))
            }
        default:
            return .failure(WireError(.unknownMessage, "this adapter does not serve \(request.bodyName)"))
        }
    }

    func answer(_ provide: LCProvideRequest) async -> Result<LCEnvelope.OneOf_Body, WireError> {
        provided.add(1, ordering: .relaxed)
        let person: String?
        do { person = try await links.personID(linkCode: provide.linkCode) } catch {
            return .failure(ProviderCodes.refused(ProviderCodes.backendFailed, "link table unreadable"))
        }
        guard let person else { return .failure(ProviderCodes.refused(ProviderCodes.noRecord, "no record")) }
        let question = ProvideQuestion(
            mediationID: provide.mediationID, bpID: provide.bpID, requesterOrg: provide.requesterOrg, personID: person,
            infoType: provide.infoType, query: String(decoding: provide.query, as: UTF8.self), deadlineAtMs: provide.deadlineAtMs)
        switch await backend.answer(question) {
        case let .success(data): return .success(.provideResponse(.with { $0.answer = data }))
        case let .failure(error):
            logger.info("backend refused", metadata: ["mediation_id": "\(provide.mediationID)", "provider_code": "\(error.providerCode)"])
            return .failure(error)
        }
    }

    public static func kindName(_ kind: LCChangeKind) -> String {
        switch kind {
        case .unspecified: "changed"
        case .moved: "moved"
        case .renamed: "renamed"
        case .died: "died"
        default: "other"
        }
    }

    // MARK: Requests from the organisation (local API)

    public struct LinkRequest: Sendable, Codable {
        public var personID: String
        public var consentRef: String
        public var myNumber: String?
        public var facts: Facts?
        /// A link made by card: the facts come from the verified signature certificate (issue 14).
        public var card: CardConsent?
        enum CodingKeys: String, CodingKey {
            case personID = "person_id", consentRef = "consent_ref", myNumber = "my_number", facts, card
        }
        public struct Facts: Sendable, Codable {
            public var name: String
            public var nameKana: String?
            public var address: String
            public var birthDate: String
            public var sex: String
            enum CodingKeys: String, CodingKey {
                case name, nameKana = "name_kana", address, birthDate = "birth_date", sex
            }
        }
    }

    /// The match request a link request asks the matcher, or why it is refused before any I/O
    /// (also the entry of the adapter's fuzzing target, through AdapterRequestBodies).
    static func matchRequest(_ request: LinkRequest) throws(WireError) -> LCMatchRequest {
        guard !request.personID.isEmpty, !request.consentRef.isEmpty else {
            throw WireError(.invalidArgument, "person_id and consent_ref are required")
        }
        var match = LCMatchRequest()
        match.consentRef = request.consentRef
        let given = [request.myNumber != nil, request.facts != nil, request.card != nil].filter { $0 }.count
        if given == 1, let number = request.myNumber {
            match.myNumber = number
        } else if given == 1, let facts = request.facts {
            match.facts = .with {
                $0.name = facts.name; $0.nameKana = facts.nameKana ?? ""; $0.address = facts.address
                $0.birthDate = facts.birthDate; $0.sex = facts.sex
            }
        } else if given == 1, let card = request.card {
            match.card = try card.proto()
        } else {
            throw WireError(.invalidArgument, "give exactly one of my_number, facts or card")
        }
        return match
    }

    /// Asks the matcher to match the person and waits for the core's link, then stores it.
    public func requestLink(_ request: LinkRequest) async throws(WireError) -> LinkTable.Link {
        guard let matcherEndpoint = settings.matcher else {
            throw WireError(.unavailable, "no [matcher] is configured for this adapter")
        }
        let match = try Self.matchRequest(request)
        let accepted: LCMatchAccepted
        do {
            let matcher = try await matcherEndpoint.connect()
            defer { Task { await matcher.close() } }
            guard case let .matchAccepted(reply)? = try await matcher.request(.matchRequest(match), timeout: Self.amount(settings.matcherTimeout)) else {
                throw WireError(.internal, "the matcher answered with another body")
            }
            accepted = reply
        } catch let error as WireError {
            throw error
        } catch {
            throw WireError(.unavailable, "cannot reach the matcher: \(error)")
        }
        do {
            try await links.addPending(matchingNumber: accepted.matchingNumber, personID: request.personID, consentRef: request.consentRef)
        } catch {
            throw WireError(.unavailable, "cannot store the link request")
        }
        // The core pushes LinkIssued (stored by handlePush); if it has not arrived, fetch it.
        let deadline = ContinuousClock.now + settings.linkWait
        while ContinuousClock.now < deadline {
            // The local API's request timeout cancels the request: stop waiting for the link.
            guard !Task.isCancelled else { throw Self.cancelled }
            // The pushed LinkIssued was stored: the request is no longer pending.
            if (try? await links.isPending(matchingNumber: accepted.matchingNumber)) == false,
               let link = try? await links.link(personID: request.personID) {
                return link
            }
            if case let .fetchLinkResponse(fetched)? = try? await core.request(
                .fetchLink(.with { $0.matchingNumber = accepted.matchingNumber }), timeout: .seconds(5)) {
                do {
                    return try await links.storeIssued(matchingNumber: accepted.matchingNumber, linkCode: fetched.link.linkCode,
                                                       keyIndex: Int(fetched.link.keyIndex), linkedAtMs: fetched.link.linkedAtMs)
                } catch {
                    throw WireError(.unavailable, "cannot store the link")
                }
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        throw WireError(.deadlineExceeded, "the core did not issue the link in time; it will be stored when it arrives")
    }

    public struct AskRequest: Sendable, Codable {
        public var personID: String
        public var bpID: String
        public var providerOrg: String
        public var infoType: String
        public var query: String?
        public var deadlineMs: UInt32?
        /// The caller's key for this question; absent: the adapter makes one.
        public var idempotencyKey: String?
        enum CodingKeys: String, CodingKey {
            case personID = "person_id", bpID = "bp_id", providerOrg = "provider_org", infoType = "info_type", query
            case deadlineMs = "deadline_ms", idempotencyKey = "idempotency_key"
        }
    }

    public struct AskAnswer: Sendable, Codable {
        public var mediationID: String
        public var answer: String
        public var idempotencyKey: String
        public var attempts: Int
        public var repeated: Bool
        enum CodingKeys: String, CodingKey {
            case mediationID = "mediation_id", answer, idempotencyKey = "idempotency_key", attempts, repeated
        }
    }

    /// Sends of one /ask to the core at most (the first and its retries); the retries also stop
    /// once the request's own time (its deadline plus `[core] request_timeout_ms`) has passed.
    static let maxAskAttempts = 8

    /// Mediation by the organisation's person ID: the adapter supplies its link code. Every
    /// request carries an idempotency key (the caller's, or one made here), and a retryable
    /// failure (the core restarting, a lost connection, B unavailable or late, a policy module
    /// overrunning) is retried with the same key, so that a reply lost on the way back is never
    /// charged or logged twice (protocol.md §8).
    public func ask(_ request: AskRequest) async throws(WireError) -> AskAnswer {
        guard let link = try? await links.link(personID: request.personID) else {
            throw WireError(.notFound, "no link for person \(request.personID) in this adapter's link table")
        }
        var mediate = LCMediateRequest()
        mediate.bpID = request.bpID
        mediate.providerOrg = request.providerOrg
        mediate.infoType = request.infoType
        mediate.linkCode = link.linkCode
        mediate.query = Data((request.query ?? "").utf8)
        mediate.deadlineMs = request.deadlineMs ?? 0
        mediate.idempotencyKey = request.idempotencyKey ?? "adapter-" + UUID().uuidString.lowercased()
        let budget = Duration.milliseconds(Int(mediate.deadlineMs)) + settings.requestTimeout
        let wait = Self.amount(budget)
        let giveUpAt = ContinuousClock.now + budget
        var sends = 0
        while true {
            // The local API's request timeout cancels the request: no more waits or retries.
            guard !Task.isCancelled else { throw Self.cancelled }
            // While the session reconnects (the core restarting), wait for it: nothing was sent,
            // so no send is counted.
            guard let connection = try? core.connection() else {
                guard ContinuousClock.now + Self.reconnectPoll < giveUpAt else {
                    throw WireError(.unavailable, "not connected to the core (reconnecting)", retryable: true)
                }
                try? await Task.sleep(for: Self.reconnectPoll)
                continue
            }
            sends += 1
            do {
                let response = try await askOnce(mediate, on: connection, wait: wait)
                return AskAnswer(mediationID: response.mediationID, answer: String(decoding: response.answer, as: UTF8.self),
                                 idempotencyKey: mediate.idempotencyKey, attempts: sends, repeated: response.repeated)
            } catch {
                let pause = max(Duration.milliseconds(Int(error.retryAfterMs)), Self.backoffForAsk(afterFailures: sends))
                guard error.retryable, sends < Self.maxAskAttempts, ContinuousClock.now + pause < giveUpAt else { throw error }
                logger.info("ask failed; retrying with the same idempotency key", metadata: [
                    "idempotency_key": "\(mediate.idempotencyKey)", "attempt": "\(sends)", "error": "\(error)",
                    "pause_ms": "\(pause / .milliseconds(1))",
                ])
                try? await Task.sleep(for: pause)
            }
        }
    }

    static let reconnectPoll: Duration = .milliseconds(50)
    static let cancelled = WireError(.deadlineExceeded, "the request was cancelled (the local API's request timeout)")

    /// The pause before retry `failures` of an /ask: 100 ms doubling to 2 s, with jitter (half
    /// to all of it), so that the 8 sends span about 7 s: long enough for a core restart and for
    /// the provider to reconnect, short of hammering either.
    static func backoffForAsk(afterFailures failures: Int, random: Double = Double.random(in: 0.5...1)) -> Duration {
        .milliseconds(min(2_000, 100 << min(max(0, failures - 1), 5))) * max(0.5, min(1, random))
    }

    /// One send: a reply, a typed refusal, or UNAVAILABLE (retryable) when the connection is gone
    /// or never answers, since then the core may or may not have decided (hence the key).
    private func askOnce(_ mediate: LCMediateRequest, on connection: LinkcoreConnection, wait: TimeAmount) async throws(WireError) -> LCMediateResponse {
        do {
            guard case let .mediateResponse(response)? = try await connection.request(.mediate(mediate), timeout: wait) else {
                throw WireError(.internal, "the core answered with another body")
            }
            return response
        } catch let error as WireError {
            throw error
        } catch {
            throw WireError(.unavailable, "the core did not answer: \(error)", retryable: true)
        }
    }

    public func statement(period: String) async throws(WireError) -> LCFeesStatement {
        do {
            guard case let .feesStatementResponse(statement)? = try await core.request(
                .ownFeesStatement(.with { $0.period = period }), timeout: Self.amount(settings.requestTimeout)) else {
                throw WireError(.internal, "the core answered with another body")
            }
            return statement
        } catch let error as WireError {
            throw error
        } catch {
            throw WireError(.unavailable, "the core did not answer: \(error)")
        }
    }

    static func amount(_ duration: Duration) -> TimeAmount {
        let c = duration.components
        return .nanoseconds(c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000)
    }
}
