import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import NIOCore
import Synchronization

/// The resident-facing site: routes, sessions, CSRF, language, security headers and error pages.
/// One `answer` function (as the card helper has) so that every response, an error page
/// included, leaves through `finish` and gets the same headers.
public final class PortalSite: Sendable {
    public struct Settings: Sendable {
        /// Host header values served: a name matches with or without the bound port.
        public var allowedHosts: [String]
        public var maxBodyBytes: Int
        public init(allowedHosts: [String], maxBodyBytes: Int) {
            self.allowedHosts = allowedHosts.map { $0.lowercased() }
            self.maxBodyBytes = maxBodyBytes
        }
    }

    public static let languageCookie = "__Host-lang"

    /// The same policy on every page: nothing but our own stylesheet, no script, no frames, forms
    /// only to us. The card step (a later slice) adds, on its page only, `script-src 'self'` for
    /// one static /static/card.js (no inline script, no 'unsafe-inline') and `connect-src` for
    /// the card client's loopback helper (http://127.0.0.1:8765).
    static let contentSecurityPolicy =
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    let settings: Settings
    let sessions: Sessions
    let library: MustacheLibrary
    let coreConnected: @Sendable () -> Bool
    let logger: Logger
    /// The logged-in pages' data (PortalSite+Log.swift); nil: those pages answer 503.
    let resident: PortalResidentData?
    /// The card login and the account (PortalSite+Card.swift); nil: not configured.
    let card: CardLogin?
    /// The OpenID Connect provider (PortalSite+OIDC.swift), when `[oidc]` is configured.
    let oidc: OIDCProvider?
    private let boundPort = Atomic<Int>(0)
    /// Sign-in requests parked while logged out (PortalSite+OIDCContinue.swift).
    let oidcPending = PendingAuthorizations<Authorization>()

    public init(settings: Settings, sessions: Sessions, coreConnected: @escaping @Sendable () -> Bool, logger: Logger,
                resident: PortalResidentData? = nil, card: CardLogin? = nil, oidc: OIDCProvider? = nil) throws {
        self.resident = resident
        self.oidc = oidc
        self.settings = settings
        self.sessions = sessions
        self.card = card
        self.library = try PortalTemplates.library()
        self.coreConnected = coreConnected
        self.logger = logger
    }

    /// Told once the listener is bound (port 0 in tests): `Host: localhost:PORT` is then ours.
    public func listening(port: Int) { boundPort.store(port, ordering: .relaxed) }

    // MARK: Requests

    /// What a page needs to know about the request it answers.
    struct Visit {
        var language: Language
        var setLanguage: Bool
        var path: String
        var cookies: [String] = []
    }

    static let knownPaths: Set<String> = Set(["/", "/login", "/home", "/logout", "/health"]).union(cardPaths).union(residentPaths)

    public func answer(_ request: Request) async -> Response {
        // DNS rebinding and poisoned links: a name that is not ours gets nothing but this page.
        guard isOurHost(request.head.authority) else {
            logger.notice("refused a request for another host")
            let visit = Visit(language: .ja, setLanguage: false, path: "/")
            return page(.misdirectedRequest, visit, message: ("host_title", "host_lead", "/", "back_home"))
        }
        var visit = language(of: request)
        visit.path = Self.knownPaths.contains(request.uri.path) ? request.uri.path : "/"
        do {
            if let response = try await oidcRoute(request, visit) { return response }
            if let answered = try await residentRoute(request, visit) { return answered }
            switch (request.method, request.uri.path) {
            case (.get, "/"): return try await landing(request, visit)
            case (.get, "/login"): return try await loginPage(request, visit)
            case (.post, "/login"): return try await loginSubmit(request, visit)
            case (.get, "/home"): return try await home(request, visit)
            case (.post, "/logout"): return try await logout(request, visit)
            case (.get, "/health"): return health()
            case (.get, "/static/portal.css"): return stylesheet()
            case (_, "/"), (_, "/login"), (_, "/home"), (_, "/logout"), (_, "/health"):
                return page(.methodNotAllowed, visit, message: ("method_title", "method_lead", "/", "back_home"))
            default:
                if let routed = try await cardRoute(request, visit) { return routed }
                return page(.notFound, visit, message: ("not_found_title", "not_found_lead", "/", "back_home"))
            }
        } catch let failure as FormFailure {
            switch failure {
            case .tooLarge: return page(.contentTooLarge, visit, message: ("too_large_title", "too_large_lead", "/", "back_home"))
            }
        } catch {
            logger.error("page failed", metadata: ["path": "\(visit.path)", "error": "\(error)"])
            return page(.serviceUnavailable, visit, message: ("error_title", "error_lead", "/", "back_home"))
        }
    }

    func isOurHost(_ authority: String?) -> Bool {
        guard let authority = authority?.lowercased(), !authority.isEmpty else { return false }
        let port = boundPort.load(ordering: .relaxed)
        return settings.allowedHosts.contains { $0 == authority || "\($0):\(port)" == authority }
    }

    /// `?lang=` switches (and is remembered in a cookie); else the cookie; else Japanese.
    func language(of request: Request) -> Visit {
        if let asked = request.uri.queryParameters["lang"].flatMap({ Language(rawValue: String($0)) }) {
            return Visit(language: asked, setLanguage: true, path: "/")
        }
        let remembered = request.cookies[Self.languageCookie].flatMap { Language(rawValue: $0.value) }
        return Visit(language: remembered ?? .ja, setLanguage: false, path: "/")
    }

    // MARK: Pages

    func landing(_ request: Request, _ visit: Visit) async throws -> Response {
        let session = try await currentSession(request)
        return page(.ok, visit, template: "landing", title: "landing_title", values: ["logged_in": session?.isLoggedIn ?? false])
    }

    func loginPage(_ request: Request, _ visit: Visit) async throws -> Response {
        if card != nil { return try await cardPage(request, visit, opening: false) }
        var visit = visit
        let session = try await formSession(request, &visit)
        return page(.ok, visit, template: "login", title: "login_title", values: ["csrf": session.csrfToken])
    }

    /// The session a page with a form needs for its CSRF token: the current one, or for a visitor
    /// a new (not logged-in) session whose cookie the page sets.
    func formSession(_ request: Request, _ visit: inout Visit) async throws -> Sessions.Session {
        if let current = try await currentSession(request) { return current }
        let session = try await sessions.create()
        visit.cookies.append(Self.sessionCookie(session.id))
        return session
    }

    func loginSubmit(_ request: Request, _ visit: Visit) async throws -> Response {
        if let card { return try await cardLoginSubmit(request, visit, card) }
        switch try await checkedForm(request, visit) {
        case .refused(let response): return response
        case .accepted:
            // The card challenge-response comes in the next slice (docs/portal.md).
            return page(.notImplemented, visit, message: ("login_unavailable_title", "login_unavailable_lead", "/", "back_home"))
        }
    }

    func home(_ request: Request, _ visit: Visit) async throws -> Response {
        guard let session = try await currentSession(request), session.isLoggedIn else { return sessionEnded(visit) }
        return page(.ok, visit, template: "home", title: "home_title", values: ["csrf": session.csrfToken])
    }

    func logout(_ request: Request, _ visit: Visit) async throws -> Response {
        switch try await checkedForm(request, visit) {
        case .refused(let response): return response
        case .accepted(let session, _):
            // Deleted (durably) before the page says so.
            try await sessions.end(session)
            var visit = visit
            visit.cookies.append(Self.clearedSessionCookie)
            return page(.ok, visit, message: ("logged_out_title", "logged_out_lead", "/login", "login_again"))
        }
    }

    func sessionEnded(_ visit: Visit) -> Response {
        var visit = visit
        visit.cookies.append(Self.clearedSessionCookie)
        return page(.unauthorized, visit, message: ("session_ended_title", "session_ended_lead", "/login", "login_again"))
    }

    func health() -> Response {
        let core = coreConnected() ? "connected" : "not connected"
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return finish(Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "portal: up\ncore: \(core)\n"))),
                      cache: "no-store")
    }

    func stylesheet() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/css; charset=utf-8"
        return finish(Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: PortalTemplates.fullStylesheet))),
                      cache: "max-age=3600")
    }

    // MARK: Sessions and forms

    /// The live session the cookie names, or nil (no cookie, forged, expired: all the same to a page).
    func currentSession(_ request: Request) async throws -> Sessions.Session? {
        guard let cookie = request.cookies[Sessions.cookieName]?.value else { return nil }
        switch try await sessions.resume(cookie) {
        case .success(let session): return session
        case .failure(let refusal):
            logger.info("session cookie refused", metadata: ["reason": "\(refusal)"])
            return nil
        }
    }

    enum FormFailure: Error { case tooLarge }
    enum FormCheck {
        case accepted(Sessions.Session, [String: String])
        case refused(Response)
    }

    /// A POST is accepted only from our own pages: a live session, the session's CSRF token in
    /// the form, and no foreign Origin. Otherwise: the logged-out page (no session) or 403.
    func checkedForm(_ request: Request, _ visit: Visit) async throws -> FormCheck {
        guard let session = try await currentSession(request) else { return .refused(sessionEnded(visit)) }
        if let origin = request.headers[.origin], !isOurOrigin(origin) {
            logger.notice("refused a form from another origin")
            return .refused(page(.forbidden, visit, message: ("csrf_title", "csrf_lead", "/", "back_home")))
        }
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: settings.maxBodyBytes) } catch { throw FormFailure.tooLarge }
        let form = Self.parseForm(String(buffer: buffer))
        guard Sessions.csrfMatches(form["csrf_token"], session) else {
            logger.notice("refused a form without its CSRF token")
            return .refused(page(.forbidden, visit, message: ("csrf_title", "csrf_lead", "/", "back_home")))
        }
        return .accepted(session, form)
    }

    func isOurOrigin(_ origin: String) -> Bool {
        guard origin.hasPrefix("https://") else { return false }
        return isOurHost(String(origin.dropFirst("https://".count)))
    }

    /// application/x-www-form-urlencoded; a repeated name keeps its first value.
    static func parseForm(_ text: String) -> [String: String] {
        var form: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String? { s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let name = parts.first.flatMap(decode), form[name] == nil else { continue }
            form[name] = parts.count > 1 ? decode(parts[1]) ?? "" : ""
        }
        return form
    }

    // MARK: Rendering

    static func sessionCookie(_ id: String) -> String {
        "\(Sessions.cookieName)=\(id); Path=/; Secure; HttpOnly; SameSite=Strict"
    }
    static let clearedSessionCookie = "\(Sessions.cookieName)=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict"
    static func languageCookieValue(_ language: Language) -> String {
        "\(languageCookie)=\(language.rawValue); Path=/; Max-Age=31536000; Secure; HttpOnly; SameSite=Strict"
    }

    /// A status page from the `message` template: title and lead keys, then where to go next.
    func page(_ status: HTTPResponse.Status, _ visit: Visit, message: (title: String, lead: String, next: String, nextLabel: String)) -> Response {
        let t = visit.language.strings
        return page(status, visit, template: "message", title: message.title, values: [
            "lead": t[message.lead] ?? "", "next_href": message.next, "next_label": t[message.nextLabel] ?? "",
        ])
    }

    func page(_ status: HTTPResponse.Status, _ visit: Visit, template: String, title: String, values: [String: Any]) -> Response {
        let t = visit.language.strings
        var context: [String: Any] = [
            "lang": visit.language.rawValue, "other_lang": visit.language.other.rawValue, "t": t, "title": t[title] ?? "",
            "switch_href": "\(visit.path)?lang=\(visit.language.other.rawValue)",
        ]
        context.merge(values) { _, new in new }
        let html = library.render(context, withTemplate: template) ?? ""
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        for cookie in visit.cookies { headers.append(HTTPField(name: .setCookie, value: cookie)) }
        if visit.setLanguage { headers.append(HTTPField(name: .setCookie, value: Self.languageCookieValue(visit.language))) }
        return finish(Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html))), cache: "no-store")
    }

    /// Headers swift-http-types has no constant for (valid names: the failable init succeeds).
    /// `Referrer-Policy: same-origin`, not `no-referrer`: under no-referrer Chromium sends
    /// `Origin: null` with our own form POSTs, which the Origin check refuses (found by the card
    /// login's browser test); no referrer still leaves for other sites.
    static let moreHeaders: [(HTTPField.Name, String)] = [
        ("X-Frame-Options", "DENY"), ("Referrer-Policy", "same-origin"), ("Cross-Origin-Opener-Policy", "same-origin"),
    ].compactMap { name, value in HTTPField.Name(name).map { ($0, value) } }

    /// The headers every response carries.
    func finish(_ response: Response, cache: String) -> Response {
        var response = response
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.strictTransportSecurity] = "max-age=31536000"
        response.headers[.cacheControl] = cache
        for (name, value) in Self.moreHeaders { response.headers[name] = value }
        return response
    }
}
