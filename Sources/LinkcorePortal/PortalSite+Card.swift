import Foundation
import HTTPTypes
import Hummingbird
import LinkcoreCardVerifier
import NIOCore

/// The card login's pages (issue 15, items 2 and 5): `/login` and `/open` (the only pages with
/// script: one static `/static/card.js`, talking to the resident's `linkcore-card helper`), the
/// account page and its forms. The rules are in CardLogin.swift.
extension PortalSite {
    static let cardPaths: Set<String> = ["/open", "/account", "/account/suspend", "/account/close", "/static/card.js"]

    /// The card pages' policy: the site's, plus our own script and the helper's loopback origin.
    /// No inline script, no 'unsafe-inline', no eval.
    static func cardContentSecurityPolicy(helperOrigin: String) -> String {
        "default-src 'none'; script-src 'self'; connect-src \(helperOrigin); style-src 'self'; img-src 'self'; form-action 'self'; "
            + "frame-ancestors 'none'; base-uri 'none'"
    }

    /// The card routes beyond /login; nil: not one of them.
    func cardRoute(_ request: Request, _ visit: Visit) async throws -> Response? {
        let path = request.uri.path
        guard Self.cardPaths.contains(path) else { return nil }
        switch (request.method, path) {
        case (.get, "/static/card.js"): return script()
        case (.get, "/open"): return try await cardPage(request, visit, opening: true)
        case (.post, "/open"): return try await openSubmit(request, visit)
        case (.get, "/account"): return try await accountPage(request, visit)
        case (.post, "/account/suspend"): return try await suspendSubmit(request, visit)
        case (.get, "/account/close"): return try await closeConfirm(request, visit)
        case (.post, "/account/close"): return try await closeSubmit(request, visit)
        default: return page(.methodNotAllowed, visit, message: ("method_title", "method_lead", "/", "back_home"))
        }
    }

    // MARK: /login and /open

    /// The card step: a challenge (and for /open a consent) for the helper, the form card.js fills.
    func cardPage(_ request: Request, _ visit: Visit, opening: Bool) async throws -> Response {
        guard let card else { return page(.notImplemented, visit, message: ("login_unavailable_title", "login_unavailable_lead", "/", "back_home")) }
        var visit = visit
        let session = try await formSession(request, &visit)
        let challenge = card.challenge()
        var values: [String: Any] = [
            "csrf": session.csrfToken, "helper": card.settings.helperOrigin, "challenge_hex": Self.hex(challenge.bytes),
            "action": opening ? "/open" : "/login",
        ]
        if opening {
            values["consent_hex"] = Self.hex(card.consent().bytes)
            values["steps"] = "consent login"
        } else {
            values["steps"] = "login"
        }
        var response = page(.ok, visit, template: opening ? "card_open" : "card_login", title: opening ? "open_title" : "login_title", values: values)
        response.headers[.contentSecurityPolicy] = Self.cardContentSecurityPolicy(helperOrigin: card.settings.helperOrigin)
        return response
    }

    func cardLoginSubmit(_ request: Request, _ visit: Visit, _ card: CardLogin) async throws -> Response {
        switch try await checkedForm(request, visit) {
        case .refused(let response): return response
        case .accepted(let visitor, let form):
            let outcome = await card.login(challengeHex: form["challenge_hex"] ?? "", signatureHex: form["signature_hex"] ?? "",
                                           certificatePEM: form["certificate_pem"] ?? "")
            switch outcome {
            case .failure(let refusal): return refused(refusal, visit)
            case .success(.loggedIn(let lp, _)): return try await loggedIn(lp: lp, replacing: visitor, visit, to: "/home")
            case .success(.suspended):
                return page(.forbidden, visit, message: ("suspended_title", "suspended_lead", "/open", "resume_button"))
            case .success(.noAccount):
                return page(.forbidden, visit, message: ("no_account_title", "no_account_lead", "/open", "open_link"))
            }
        }
    }

    func openSubmit(_ request: Request, _ visit: Visit) async throws -> Response {
        guard let card else { return page(.notImplemented, visit, message: ("login_unavailable_title", "login_unavailable_lead", "/", "back_home")) }
        switch try await checkedForm(request, visit) {
        case .refused(let response): return response
        case .accepted(let visitor, let form):
            let consent = CardLogin.SignedConsent(consentHex: form["consent_hex"] ?? "", signatureHex: form["consent_signature_hex"] ?? "",
                                                  certificatePEM: form["consent_certificate_pem"] ?? "")
            let outcome = await card.open(consent: consent, challengeHex: form["challenge_hex"] ?? "",
                                          signatureHex: form["signature_hex"] ?? "", certificatePEM: form["certificate_pem"] ?? "")
            switch outcome {
            case .failure(let refusal): return refused(refusal, visit)
            case .success(.opened(let lp)), .success(.resumed(let lp)), .success(.confirmed(let lp)):
                // Durable (binding, account, event) before this answer; the account page shows it.
                return try await loggedIn(lp: lp, replacing: visitor, visit, to: "/account")
            }
        }
    }

    /// A NEW session with LP (never the visitor's upgraded: no fixation); the visitor's ends.
    func loggedIn(lp: String, replacing visitor: Sessions.Session, _ visit: Visit, to location: String) async throws -> Response {
        let session = try await sessions.create(lpLinkCode: lp)
        try await sessions.end(visitor)
        var headers = HTTPFields()
        // A sign-in parked while logged out continues to its consent page (PortalSite+OIDCContinue.swift).
        headers[.location] = oidcPending.move(from: visitor.id, to: session.id) ? Self.oidcContinuePath : location
        headers.append(HTTPField(name: .setCookie, value: Self.sessionCookie(session.id)))
        if visit.setLanguage { headers.append(HTTPField(name: .setCookie, value: Self.languageCookieValue(visit.language))) }
        return finish(Response(status: .seeOther, headers: headers), cache: "no-store")
    }

    /// One page per refusal, each saying what to do next; none depends on an account.
    func refused(_ refusal: CardLogin.Refusal, _ visit: Visit) -> Response {
        switch refusal {
        case .notVerified: page(.forbidden, visit, message: ("refused_title", "refused_not_verified", "/login", "login_again"))
        case .replayed: page(.forbidden, visit, message: ("refused_title", "refused_replayed", "/login", "login_again"))
        case .certificateExpired: page(.forbidden, visit, message: ("refused_title", "refused_expired", "/", "back_home"))
        case .revoked: page(.forbidden, visit, message: ("refused_title", "refused_revoked", "/", "back_home"))
        case .notSameCard: page(.forbidden, visit, message: ("refused_title", "refused_not_same_card", "/open", "open_link"))
        case .matchFailed: page(.forbidden, visit, message: ("refused_title", "refused_match_failed", "/", "back_home"))
        case .unavailable: page(.serviceUnavailable, visit, message: ("error_title", "refused_unavailable", "/login", "login_again"))
        }
    }

    // MARK: The account

    func accountPage(_ request: Request, _ visit: Visit) async throws -> Response {
        guard let card, let session = try await currentSession(request), let lp = session.lpLinkCode else { return sessionEnded(visit) }
        let t = visit.language.strings
        let events = try await card.store.accountEvents(lpLinkCode: lp).map { event -> [String: String] in
            ["when": Self.japanTime(event.atMs), "what": t["event_" + event.kind] ?? event.kind, "detail": event.detail]
        }
        return page(.ok, visit, template: "account", title: "account_title", values: ["csrf": session.csrfToken, "events": events])
    }

    func suspendSubmit(_ request: Request, _ visit: Visit) async throws -> Response {
        guard let card else { return sessionEnded(visit) }
        switch try await checkedForm(request, visit) {
        case .refused(let response): return response
        case .accepted(let session, _):
            guard let lp = session.lpLinkCode else { return sessionEnded(visit) }
            switch await card.suspend(lp: lp) {
            case .done, .notActive:
                var visit = visit
                visit.cookies.append(Self.clearedSessionCookie)
                return page(.ok, visit, message: ("suspended_done_title", "suspended_done_lead", "/", "back_home"))
            case .unavailable:
                return page(.serviceUnavailable, visit, message: ("error_title", "error_lead", "/account", "account_title"))
            }
        }
    }

    func closeConfirm(_ request: Request, _ visit: Visit) async throws -> Response {
        guard card != nil, let session = try await currentSession(request), session.isLoggedIn else { return sessionEnded(visit) }
        return page(.ok, visit, template: "account_close", title: "close_title", values: ["csrf": session.csrfToken])
    }

    func closeSubmit(_ request: Request, _ visit: Visit) async throws -> Response {
        guard let card else { return sessionEnded(visit) }
        switch try await checkedForm(request, visit) {
        case .refused(let response): return response
        case .accepted(let session, let form):
            guard let lp = session.lpLinkCode else { return sessionEnded(visit) }
            // The confirmation page's box must be ticked: a stray POST closes nothing.
            guard form["confirm"] == "yes" else {
                return page(.ok, visit, template: "account_close", title: "close_title", values: ["csrf": session.csrfToken, "unconfirmed": true])
            }
            switch await card.close(lp: lp) {
            case .done, .notActive:
                var visit = visit
                visit.cookies.append(Self.clearedSessionCookie)
                return page(.ok, visit, message: ("closed_title", "closed_lead", "/", "back_home"))
            case .unavailable:
                return page(.serviceUnavailable, visit, message: ("error_title", "close_unavailable", "/account", "account_title"))
            }
        }
    }

    // MARK: Helpers

    func script() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/javascript; charset=utf-8"
        return finish(Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: PortalTemplates.cardScript))),
                      cache: "no-cache")
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// Dates on the pages are Japan time (UTC+9, no daylight saving), whatever the server's zone.
    static func japanTime(_ ms: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 9 * 3600)
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000)) + " JST"
    }
}
