import Foundation
import Hummingbird
import LinkcoreCard
import LinkcoreCardVerifier
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The loopback HTTP side of `linkcore-card helper` (docs/card.md, "The browser helper"):
///
/// - `POST /requests` (CORS, allowed origins only): a page hands over a login challenge; answer
///   `{id, pin_url, service, expires}`.
/// - `GET /pin/<id>`, `POST /pin/<id>`: the helper's own PIN page and its form. The only place the
///   PIN is typed; not frameable, not cached, the form carries the request's secret.
/// - `GET /requests/<id>` (CORS, the creating origin only): `pending`, `signed` with
///   `{certificate_pem, signature_hex}` (what the adapter's `/card/verify` takes), `refused`, `expired`.
///
/// Every request must name the helper itself in `Host` (a DNS-rebound name is refused), and
/// nothing a client sends crashes the process: refusals are typed JSON (or a page for the PIN window).
final class HelperServer: Sendable {
    let allowList: HelperAllowList
    let requests: HelperRequests
    let card: HelperCard
    let address: HelperListenAddress
    let logger: Logger
    /// `host:port` once listening (the bound port for port 0); nil before.
    let authority = Mutex<String?>(nil)

    init(allowList: HelperAllowList, requests: HelperRequests, card: HelperCard, address: HelperListenAddress, logger: Logger) {
        self.allowList = allowList
        self.requests = requests
        self.card = card
        self.address = address
        self.logger = logger
    }

    static let maxJSONBytes = 8192
    static let maxFormBytes = 1024

    func application(onListening: @escaping @Sendable (String) async -> Void) -> some Service {
        Application(
            responder: CallbackResponder<BasicRequestContext> { [self] request, _ in await answer(request) },
            server: .http1(configuration: .init(idleTimeout: .seconds(30))),
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: nil, reuseAddress: false),
            onServerRunning: { [self] channel in
                let bound = address.authority(port: channel.localAddress?.port ?? address.port)
                authority.withLock { $0 = bound }
                await onListening(bound)
            },
            logger: logger)
    }

    func answer(_ request: Request) async -> Response {
        // DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 still sends
        // `Host: evil.example:PORT`. Only the helper's own loopback authority is served.
        guard let own = authority.withLock({ $0 }), request.head.authority == own else {
            return Self.json(error: .wrongHost(request.head.authority), origin: nil)
        }
        let parts = request.uri.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        switch (request.method, parts.count, parts.first) {
        case (.options, 1, "requests"), (.options, 2, "requests"):
            return preflight(request)
        case (.post, 1, "requests"):
            return await create(request, own: own)
        case (.get, 2, "requests"):
            return poll(request, id: parts[1])
        case (.get, 2, "pin"):
            return pinPage(id: parts[1], own: own)
        case (.post, 2, "pin"):
            return await submit(request, id: parts[1], own: own)
        case (_, 1, "requests"), (_, 2, "requests"), (_, 2, "pin"):
            return Self.json(error: .methodNotAllowed, origin: nil)
        default:
            return Self.json(error: .notFound, origin: nil)
        }
    }

    // MARK: CORS side (the service's page)

    /// The CORS preflight, and Chromium's Private Network Access preflight, for allowed origins only.
    func preflight(_ request: Request) -> Response {
        guard let entry = allowList.entry(for: request.headers[.origin]) else {
            logger.warning("preflight refused: origin not allowed", metadata: ["origin": "\(request.headers[.origin] ?? "none")"])
            return Self.json(error: .originNotAllowed(request.headers[.origin]), origin: nil)
        }
        var headers = Self.cors(entry.origin)
        headers[.accessControlAllowMethods] = "GET, POST"
        headers[.accessControlAllowHeaders] = "content-type"
        headers[.accessControlMaxAge] = "60"
        if let ask = FieldName("Access-Control-Request-Private-Network"), request.headers[ask]?.lowercased() == "true",
           let allow = FieldName("Access-Control-Allow-Private-Network") {
            headers[allow] = "true"
        }
        return Response(status: .noContent, headers: headers)
    }

    struct CreateBody: Decodable {
        let challengeHex: String?
        let challengeText: String?
        enum CodingKeys: String, CodingKey { case challengeHex = "challenge_hex", challengeText = "challenge_text" }
    }

    struct Created: Encodable {
        let id: String
        let pinURL: String
        let service: String
        let expires: Int64
        enum CodingKeys: String, CodingKey { case id, pinURL = "pin_url", service, expires }
    }

    func create(_ request: Request, own: String) async -> Response {
        // Origin first: a foreign page learns nothing and records nothing.
        guard let entry = allowList.entry(for: request.headers[.origin]) else {
            logger.warning("request refused: origin not allowed", metadata: ["origin": "\(request.headers[.origin] ?? "none")"])
            return Self.json(error: .originNotAllowed(request.headers[.origin]), origin: nil)
        }
        let body: [UInt8]
        switch await Self.collect(request, limit: Self.maxJSONBytes) {
        case .success(let bytes): body = bytes
        case .failure(let error): return Self.json(error: error, origin: entry.origin)
        }
        guard let decoded = try? JSONDecoder().decode(CreateBody.self, from: Data(body)) else {
            return Self.json(error: .badRequest("expected JSON {\"challenge_hex\": …} or {\"challenge_text\": …}"), origin: entry.origin)
        }
        let challengeBytes: [UInt8]
        switch (decoded.challengeHex, decoded.challengeText) {
        case (let hexText?, nil):
            guard let parsed = bytes(hex: hexText) else { return Self.json(error: .badRequest("challenge_hex is not hex"), origin: entry.origin) }
            challengeBytes = parsed
        case (nil, let text?): challengeBytes = Array(text.utf8)
        default: return Self.json(error: .badRequest("give exactly one of challenge_hex and challenge_text"), origin: entry.origin)
        }
        // The same reading as `linkcore-card sign`: only a login challenge or a link consent,
        // unexpired, reaches a PIN page (each for its own key).
        let reading = SigningRequest(bytes: challengeBytes)
        let challenge: HelperAsk
        switch reading {
        case .login(let login): challenge = .login(login)
        case .consent(let consent): challenge = .consent(consent)
        case .opaque: return Self.json(error: .notALoginChallenge, origin: entry.origin)
        }
        if reading.refusal(app: challenge.application, raw: false) != nil {
            return Self.json(error: .expired, origin: entry.origin)
        }
        if let service = entry.service, service != challenge.service {
            return Self.json(error: .otherService(origin: entry.origin, service: challenge.service), origin: entry.origin)
        }
        do throws(HelperError) {
            let made = try requests.create(origin: entry.origin, challenge: challenge)
            logger.info("signing request", metadata: [
                "id": "\(made.id)", "origin": "\(entry.origin)", "service": "\(challenge.service)", "key": "\(challenge.application.rawValue)",
            ])
            let created = Created(id: made.id, pinURL: "http://\(own)/pin/\(made.id)", service: challenge.service,
                                  expires: Int64(challenge.expiresAt.timeIntervalSince1970))
            return Self.json(created, status: .created, origin: entry.origin)
        } catch {
            return Self.json(error: error, origin: entry.origin)
        }
    }

    struct Polled: Encodable {
        let state: String
        var certificatePEM: String?
        var signatureHex: String?
        var reason: String?
        enum CodingKeys: String, CodingKey { case state, certificatePEM = "certificate_pem", signatureHex = "signature_hex", reason }
    }

    func poll(_ request: Request, id: String) -> Response {
        guard let entry = allowList.entry(for: request.headers[.origin]) else {
            return Self.json(error: .originNotAllowed(request.headers[.origin]), origin: nil)
        }
        // Unknown and someone else's look the same to the asking page.
        guard let found = requests.get(id), found.origin == entry.origin else {
            return Self.json(error: .unknownRequest, origin: entry.origin)
        }
        let polled: Polled = switch found.state {
        case .signed(let pem, let signature): Polled(state: "signed", certificatePEM: pem, signatureHex: signature)
        case .refused(let reason): Polled(state: "refused", reason: reason)
        case .pending, .signing: found.isExpired(now: Date()) ? Polled(state: "expired") : Polled(state: "pending")
        }
        return Self.json(polled, status: .ok, origin: entry.origin)
    }

    // MARK: the PIN page (the helper's own origin)

    func pinPage(id: String, own: String) -> Response {
        guard let found = requests.get(id) else { return HelperPage.message(status: .notFound, title: "Unknown request", text: HelperError.unknownRequest.description) }
        switch found.state {
        case .pending where !found.isExpired(now: Date()):
            return HelperPage.pinForm(found, error: nil)
        case .pending, .signing:
            return HelperPage.message(status: .gone, title: "Expired", text: "This login request has expired. Start again on the service's page.")
        case .signed, .refused:
            return HelperPage.message(status: .conflict, title: "Already answered", text: HelperError.alreadyAnswered.description)
        }
    }

    func submit(_ request: Request, id: String, own: String) async -> Response {
        // A form posted from another page carries that page's origin (browsers send Origin on POST).
        if let origin = request.headers[.origin], origin != "http://\(own)" {
            return HelperPage.error(.csrf)
        }
        let body: [UInt8]
        switch await Self.collect(request, limit: Self.maxFormBytes) {
        case .success(let bytes): body = bytes
        case .failure(let error): return HelperPage.error(error)
        }
        let form = Self.form(body)
        let found: HelperRequest
        do throws(HelperError) {
            found = try requests.beginSigning(id, secret: form["secret"])
        } catch {
            return HelperPage.error(error)
        }
        if form["action"] == "cancel" {
            requests.finish(id, .refused("the holder cancelled"))
            logger.info("login request cancelled", metadata: ["id": "\(id)"])
            return HelperPage.message(status: .ok, title: "Cancelled", text: "Nothing was signed. You can close this window.")
        }
        switch card.sign(found.challenge, pin: form["pin"] ?? "") {
        case .signed(let pem, let signature):
            requests.finish(id, .signed(certificatePEM: pem, signatureHex: signature))
            logger.info("login signed", metadata: ["id": "\(id)", "service": "\(found.challenge.service)"])
            return HelperPage.message(status: .ok, title: "Signed",
                                      text: "Signed the \(found.challenge.application == .signature ? "consent for" : "login to") \(found.challenge.service) for \(found.origin). You can close this window.")
        case .retry(let refusal):
            // A wrong PIN or one in the wrong format: the holder may try again on the same page.
            requests.finish(id, nil)
            logger.notice("login PIN refused", metadata: ["id": "\(id)", "refusal": "\(refusal.code)"])
            return HelperPage.pinForm(found, error: "\(refusal.code): \(refusal)")
        case .refused(let reason):
            requests.finish(id, .refused(reason))
            logger.warning("login refused", metadata: ["id": "\(id)", "reason": "\(reason)"])
            return HelperPage.message(status: .ok, title: "Refused", text: reason)
        }
    }

    // MARK: helpers

    static func cors(_ origin: String) -> HTTPFields {
        [.accessControlAllowOrigin: origin, .vary: "Origin", .cacheControl: "no-store"]
    }

    /// The body up to `limit` bytes; beyond it, 413 (announced or streamed).
    static func collect(_ request: Request, limit: Int) async -> Result<[UInt8], HelperError> {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit { return .failure(.bodyTooLarge(limit)) }
        do {
            return .success(Array(buffer: try await request.body.collect(upTo: limit)))
        } catch {
            return .failure(.bodyTooLarge(limit))
        }
    }

    /// application/x-www-form-urlencoded, first value of each name.
    static func form(_ body: [UInt8]) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String? { String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard kv.count == 2, let name = decode(kv[0]), let value = decode(kv[1]), fields[name] == nil else { continue }
            fields[name] = value
        }
        return fields
    }

    struct ErrorBody: Encodable {
        let error: String
        let message: String
    }

    static func json(error: HelperError, origin: String?) -> Response {
        var response = json(ErrorBody(error: error.code, message: error.description), status: .init(code: error.status), origin: origin)
        // The unread rest of a refused body is not drained: the connection closes after this answer.
        if case .bodyTooLarge = error { response.headers[.connection] = "close" }
        return response
    }

    /// JSON with CORS for `origin` (nil: no CORS headers, so a foreign page cannot read it).
    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status, origin: String?) -> Response {
        var headers: HTTPFields = origin.map(cors) ?? [.cacheControl: "no-store"]
        headers[.contentType] = "application/json"
        headers[.xContentTypeOptions] = "nosniff"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{\"error\":\"internal\"}".utf8)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
