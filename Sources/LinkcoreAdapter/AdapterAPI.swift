import Foundation
import LinkcoreAdapterAPI
import LinkcoreWire
import OpenAPIRuntime

/// The local API's operations, as generated from docs/adapter-openapi.json (`APIProtocol`),
/// answered by the adapter. Success is the generated typed output; every failure is thrown as an
/// `APIFailure` and written by `APIErrorMiddleware`, so that the JSON error shape and the
/// WireError → HTTP status table exist once.
struct AdapterAPI: APIProtocol {
    let service: AdapterService

    typealias Schemas = Components.Schemas

    func health(_ input: Operations.Health.Input) async throws -> Operations.Health.Output {
        .ok(.init(body: .json(.init(status: .ok))))
    }

    func status(_ input: Operations.Status.Input) async throws -> Operations.Status.Output {
        let state = service.coreState
        let backend = Schemas.Status.BackendPayload(rawValue: service.backend.name)
        return .ok(.init(body: .json(.init(
            orgCode: service.settings.orgCode, coreConnected: state.connected, coreConnects: state.connects, coreAddress: state.core,
            coreLastError: state.lastError, matcherConfigured: service.settings.matcher != nil, backend: backend,
            links: (try? await service.links.linkCount()) ?? -1,
            eventsUnacknowledged: (try? await service.links.pendingEventCount()) ?? -1,
            provideRequests: service.provided.load(ordering: .relaxed)))))
    }

    /// The committed document, as the generator read it.
    static let document: OpenAPIObjectContainer? = try? JSONDecoder().decode(
        OpenAPIObjectContainer.self, from: Data(AdapterOpenAPIDocument.json.utf8))

    func openapi(_ input: Operations.Openapi.Input) async throws -> Operations.Openapi.Output {
        guard let document = Self.document else {
            throw APIFailure(.internalServerError, "INTERNAL", "the built-in OpenAPI document does not parse")
        }
        return .ok(.init(body: .json(document)))
    }

    func requestLink(_ input: Operations.RequestLink.Input) async throws -> Operations.RequestLink.Output {
        guard case let .json(body) = input.body else { throw APIFailure.badRequest("a JSON body is required") }
        let request = Self.linkRequest(body)
        let link: LinkTable.Link
        do { link = try await service.requestLink(request) } catch { throw APIFailure.from(error) }
        return .created(.init(body: .json(Self.link(link))))
    }

    static func linkRequest(_ body: Schemas.LinkRequest) -> AdapterService.LinkRequest {
        AdapterService.LinkRequest(
            personID: body.personId, consentRef: body.consentRef, myNumber: body.myNumber,
            facts: body.facts.map {
                .init(name: $0.name, nameKana: $0.nameKana, address: $0.address, birthDate: $0.birthDate, sex: $0.sex.rawValue)
            },
            card: body.card.map { .init(certificatePEM: $0.certificatePem, consent: $0.consent, signatureHex: $0.signatureHex) })
    }

    func getLink(_ input: Operations.GetLink.Input) async throws -> Operations.GetLink.Output {
        let person = input.path.personId
        guard let link = try? await service.links.link(personID: person) else {
            throw APIFailure(.notFound, "NOT_FOUND", "no link for person \(person)")
        }
        return .ok(.init(body: .json(Self.link(link))))
    }

    func ask(_ input: Operations.Ask.Input) async throws -> Operations.Ask.Output {
        guard case let .json(body) = input.body else { throw APIFailure.badRequest("a JSON body is required") }
        var deadline: UInt32?
        if let ms = body.deadlineMs {
            guard let exact = UInt32(exactly: ms) else {
                throw APIFailure.badRequest("deadline_ms must be between 0 and \(UInt32.max)")
            }
            deadline = exact
        }
        let request = AdapterService.AskRequest(
            personID: body.personId, bpID: body.bpId, providerOrg: body.providerOrg, infoType: body.infoType,
            query: body.query, deadlineMs: deadline, idempotencyKey: body.idempotencyKey)
        let answer: AdapterService.AskAnswer
        do { answer = try await service.ask(request) } catch { throw APIFailure.from(error) }
        return .ok(.init(body: .json(.init(
            mediationId: answer.mediationID, answer: answer.answer, idempotencyKey: answer.idempotencyKey,
            attempts: answer.attempts, repeated: answer.repeated))))
    }

    func listEvents(_ input: Operations.ListEvents.Input) async throws -> Operations.ListEvents.Output {
        let all = input.query.all ?? false
        let limit = min(1000, max(1, input.query.limit ?? 100))
        guard let events = try? await service.links.events(all: all, limit: limit) else {
            throw APIFailure(.serviceUnavailable, "UNAVAILABLE", "cannot read the event table", retryable: true)
        }
        let body: [Schemas.Event] = events.map { e in
            Schemas.Event(eventId: e.eventID, linkCode: e.linkCode, personId: e.personID,
                          kind: Schemas.Event.KindPayload(rawValue: e.kind) ?? .other,
                          occurredAtMs: e.occurredAtMs, receivedAtMs: e.receivedAtMs, acknowledged: e.acknowledged)
        }
        return .ok(.init(body: .json(.init(events: body))))
    }

    func acknowledgeEvents(_ input: Operations.AcknowledgeEvents.Input) async throws -> Operations.AcknowledgeEvents.Output {
        guard case let .json(body) = input.body else { throw APIFailure.badRequest("a JSON body is required") }
        guard body.eventIds.count <= 1000 else { throw APIFailure.badRequest("at most 1000 event ids") }
        guard let marked = try? await service.links.acknowledgeEvents(body.eventIds) else {
            throw APIFailure(.serviceUnavailable, "UNAVAILABLE", "cannot write the event table", retryable: true)
        }
        return .ok(.init(body: .json(.init(acknowledged: marked))))
    }

    func sendNotice(_ input: Operations.SendNotice.Input) async throws -> Operations.SendNotice.Output {
        guard case let .json(body) = input.body else { throw APIFailure.badRequest("a JSON body is required") }
        let request = AdapterService.NoticeRequest(personID: body.personId, noticeType: body.noticeType, title: body.title,
                                                   body: body.body, idempotencyKey: body.idempotencyKey)
        let receipt: AdapterService.NoticeReceipt
        do { receipt = try await service.sendNotice(request) } catch { throw APIFailure.from(error) }
        return .created(.init(body: .json(.init(
            noticeId: receipt.noticeID, idempotencyKey: receipt.idempotencyKey, repeated: receipt.repeated,
            sentAtMs: receipt.sentAtMs, attempts: receipt.attempts))))
    }

    func accessLog(_ input: Operations.AccessLog.Input) async throws -> Operations.AccessLog.Output {
        let entries: [AdapterService.AccessLogEntry]
        do { entries = try await service.accessLog(personID: input.path.personId) } catch { throw APIFailure.from(error) }
        let body: [Schemas.AccessLogEntry] = entries.map { e in
            Schemas.AccessLogEntry(
                mediationId: e.mediationID, atMs: e.atMs, requesterOrg: e.requesterOrg, requesterName: e.requesterName,
                providerOrg: e.providerOrg, providerName: e.providerName, bpId: e.bpID, infoType: e.infoType,
                outcome: Schemas.AccessLogEntry.OutcomePayload(rawValue: e.outcome) ?? .unspecified, repeats: Int(e.repeats))
        }
        return .ok(.init(body: .json(.init(entries: body))))
    }

    func feeStatement(_ input: Operations.FeeStatement.Input) async throws -> Operations.FeeStatement.Output {
        let period = input.query.period ?? Self.currentPeriod()
        let s: LCFeesStatement
        do { s = try await service.statement(period: period) } catch { throw APIFailure.from(error) }
        let lines: Schemas.Statement.LinesPayload = s.lines.map { line in
            Schemas.Statement.LinesPayloadPayload(
                operation: line.operation, tariffId: line.tariffID, count: Int(clamping: line.count),
                unitPriceYen: Int(line.unitPriceYen), amountYen: Int(line.amountYen))
        }
        let statement = Schemas.Statement(
            orgCode: s.orgCode, orgName: s.orgName, period: s.period, lines: lines,
            totalYen: Int(s.totalYen), ledgerEntries: Int(clamping: s.ledgerEntries))
        return .ok(.init(body: .json(statement)))
    }

    // MARK: helpers

    static func link(_ link: LinkTable.Link) -> Schemas.Link {
        .init(personId: link.personID, linkCode: link.linkCode, keyIndex: link.keyIndex, linkedAtMs: link.linkedAtMs,
              consentRef: link.consentRef)
    }

    static func currentPeriod() -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Tokyo") ?? .gmt
        let parts = calendar.dateComponents([.year, .month], from: Date())
        return String(format: "%04d-%02d", parts.year ?? 1970, parts.month ?? 1)
    }
}
