import Foundation
import LinkcoreWire

/// The local API's routes. `routes` is the single list the server dispatches on and the
/// `routes` command prints; a test checks it against the OpenAPI document (docs/adapter-openapi.json).
public struct APIRouter: Sendable {
    public struct Route: Sendable {
        public var method: String
        public var path: String          // OpenAPI template: /links/{person_id}
        let handle: @Sendable (AdapterService, APIRequest, [String: String]) async -> APIResponse
    }

    let service: AdapterService
    public init(service: AdapterService) { self.service = service }

    public static let routes: [Route] = [
        Route(method: "GET", path: "/health") { _, _, _ in .json(200, ["status": "ok"]) },
        Route(method: "GET", path: "/status") { service, _, _ in await status(service) },
        Route(method: "GET", path: "/openapi.json") { _, _, _ in
            APIResponse(status: 200, body: Data(OpenAPIDocument.json.utf8))
        },
        Route(method: "POST", path: "/links") { service, request, _ in
            await decoding(AdapterService.LinkRequest.self, request) { link in
                .json(201, try await service.requestLink(link))
            }
        },
        Route(method: "GET", path: "/links/{person_id}") { service, _, parameters in
            let person = parameters["person_id"] ?? ""
            guard let link = try? await service.links.link(personID: person) else {
                return .error(404, code: "NOT_FOUND", "no link for person \(person)")
            }
            return .json(200, link)
        },
        Route(method: "POST", path: "/ask") { service, request, _ in
            await decoding(AdapterService.AskRequest.self, request) { ask in .json(200, try await service.ask(ask)) }
        },
        Route(method: "GET", path: "/events") { service, request, _ in
            let all = request.query("all") == "true"
            let limit = min(1000, max(1, Int(request.query("limit") ?? "") ?? 100))
            guard let events = try? await service.links.events(all: all, limit: limit) else {
                return .error(503, code: "UNAVAILABLE", "cannot read the event table", retryable: true)
            }
            return .json(200, ["events": events])
        },
        Route(method: "POST", path: "/events/ack") { service, request, _ in
            struct Ack: Decodable {
                var eventIDs: [String]
                enum CodingKeys: String, CodingKey { case eventIDs = "event_ids" }
            }
            return await decoding(Ack.self, request) { ack in
                guard ack.eventIDs.count <= 1000 else { throw WireError(.invalidArgument, "at most 1000 event ids") }
                guard let marked = try? await service.links.acknowledgeEvents(ack.eventIDs) else {
                    throw WireError(.unavailable, "cannot write the event table")
                }
                return .json(200, ["acknowledged": marked])
            }
        },
        Route(method: "GET", path: "/access-log/{person_id}") { service, _, parameters in
            do {
                return .json(200, ["entries": try await service.accessLog(personID: parameters["person_id"] ?? "")])
            } catch {
                return failure(error)
            }
        },
        Route(method: "GET", path: "/statement") { service, request, _ in
            let period = request.query("period") ?? currentPeriod()
            do {
                return .json(200, StatementBody(try await service.statement(period: period)))
            } catch {
                return failure(error)
            }
        },
    ]

    public func handle(_ request: APIRequest) async -> APIResponse {
        let path = request.path
        var methodMismatch = false
        for route in Self.routes {
            guard let parameters = Self.match(route.path, path) else { continue }
            guard route.method == request.method else { methodMismatch = true; continue }
            return await route.handle(service, request, parameters)
        }
        return methodMismatch
            ? .error(405, code: "METHOD_NOT_ALLOWED", "\(request.method) is not served on \(path)")
            : .error(404, code: "NO_SUCH_ROUTE", "no route \(path); see /openapi.json")
    }

    /// Matches a template (`/links/{person_id}`) against a path; returns the named segments.
    static func match(_ template: String, _ path: String) -> [String: String]? {
        let t = template.split(separator: "/", omittingEmptySubsequences: false)
        let p = path.split(separator: "/", omittingEmptySubsequences: false)
        guard t.count == p.count else { return nil }
        var parameters: [String: String] = [:]
        for (a, b) in zip(t, p) {
            if a.hasPrefix("{") && a.hasSuffix("}") {
                guard !b.isEmpty else { return nil }
                parameters[String(a.dropFirst().dropLast())] = String(b).removingPercentEncoding ?? String(b)
            } else if a != b {
                return nil
            }
        }
        return parameters
    }

    static func decoding<T: Decodable>(_ type: T.Type, _ request: APIRequest,
                                       _ body: (T) async throws -> APIResponse) async -> APIResponse {
        // Request types spell their snake_case keys out (CodingKeys): convertFromSnakeCase
        // would look for "personId" where the property is "personID".
        let decoder = JSONDecoder()
        let value: T
        do { value = try decoder.decode(type, from: request.body) } catch {
            return .error(400, code: "INVALID_ARGUMENT", "the body is not the JSON this route expects (see /openapi.json)")
        }
        do { return try await body(value) } catch { return failure(error) }
    }

    /// A core error as HTTP: the status says what kind of failure it is; the body keeps the code.
    static func failure(_ error: any Error) -> APIResponse {
        guard let error = error as? WireError else {
            return .error(500, code: "INTERNAL", "\(error)")
        }
        let status: Int = switch error.code {
        case .invalidArgument, .invalidLinkCode, .matchFailed, .invalidMatchingNumber: 422
        case .notFound: 404
        case .notPermitted, .permissionDenied: 403
        case .providerRefused: 502
        case .providerTimeout, .deadlineExceeded: 504
        case .rateLimited, .tooManyInFlight: 429
        case .unavailable, .providerUnavailable, .shuttingDown: 503
        default: 500
        }
        return .error(status, code: errorName(error.code), error.message, number: error.code.rawValue,
                      providerCode: error.providerCode.isEmpty ? nil : error.providerCode, retryable: error.retryable)
    }

    /// `providerRefused` → `PROVIDER_REFUSED`, the name in common.proto and docs/protocol.md.
    static func errorName(_ code: LCErrorCode) -> String {
        var name = "\(code)"
        if let paren = name.firstIndex(of: "(") { name = String(name[..<paren]) }
        var out = ""
        for c in name {
            if c.isUppercase && !out.isEmpty { out.append("_") }
            out.append(contentsOf: c.uppercased())
        }
        return out
    }

    static func currentPeriod() -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Tokyo") ?? .gmt
        let parts = calendar.dateComponents([.year, .month], from: Date())
        return String(format: "%04d-%02d", parts.year ?? 1970, parts.month ?? 1)
    }

    static func status(_ service: AdapterService) async -> APIResponse {
        struct Status: Encodable {
            var orgCode: String
            var coreConnected: Bool
            var coreConnects: Int
            var coreLastError: String?
            var matcherConfigured: Bool
            var backend: String
            var links: Int
            var eventsUnacknowledged: Int
            var provideRequests: Int
        }
        let state = service.coreState
        return .json(200, Status(
            orgCode: service.settings.orgCode, coreConnected: state.connected, coreConnects: state.connects,
            coreLastError: state.lastError, matcherConfigured: service.settings.matcher != nil, backend: service.backend.name,
            links: (try? await service.links.linkCount()) ?? -1,
            eventsUnacknowledged: (try? await service.links.pendingEventCount()) ?? -1,
            provideRequests: service.provided.load(ordering: .relaxed)))
    }

    struct StatementBody: Encodable {
        struct Line: Encodable {
            var operation: String
            var tariffId: String
            var count: UInt64
            var unitPriceYen: Int64
            var amountYen: Int64
        }
        var orgCode: String
        var orgName: String
        var period: String
        var lines: [Line]
        var totalYen: Int64
        var ledgerEntries: UInt64
        init(_ s: LCFeesStatement) {
            orgCode = s.orgCode; orgName = s.orgName; period = s.period; totalYen = s.totalYen; ledgerEntries = s.ledgerEntries
            lines = s.lines.map { Line(operation: $0.operation, tariffId: $0.tariffID, count: $0.count, unitPriceYen: $0.unitPriceYen, amountYen: $0.amountYen) }
        }
    }
}
