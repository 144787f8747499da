import Foundation
import HTTPTypes
import Hummingbird

/// The return to the relying party after a card login (issue 15, item 6; docs/portal.md "Sign in
/// to other services"): a logged-out resident's authorization request is parked server side under
/// the visitor session, the card login (or account opening) moves it to the new session and
/// sends the resident to `/oidc/continue`, whose consent form names only `pending=1`; the consent
/// then takes the parked parameters, never the browser's.
extension PortalSite {
    static let oidcContinuePath = "/oidc/continue"

    /// Logged out at the authorization endpoint: park the request under a visitor session (the
    /// one the login page's form will use) and ask for the login.
    func parkAndAskLogin(_ auth: Authorization, _ request: Request, _ visit: Visit) async throws -> Response {
        var visit = visit
        let visitor = try await formSession(request, &visit)
        oidcPending.park(auth, for: visitor.id)
        logger.info("authorization request parked until the login", metadata: ["client_id": "\(auth.client.clientID)"])
        return page(.ok, visit, message: ("oidc_login_title", "oidc_login_lead", "/login", "login_again"))
    }

    /// GET /oidc/continue: the consent page of this session's parked request. A forged or stale
    /// continue (nothing parked for this session, or expired) gets a page that says so, never a redirect.
    func continueAuthorization(_ request: Request, _ visit: Visit) async throws -> Response {
        guard let session = try await currentSession(request), session.isLoggedIn else { return sessionEnded(visit) }
        guard let auth = oidcPending.peek(session.id) else {
            logger.info("continue without a parked authorization request")
            return pendingGone(visit)
        }
        return consentPage(auth, visit, csrf: session.csrfToken, pending: true)
    }

    /// The consent page, its CSP allowing a form-driven redirect to the relying party's origin only.
    func consentPage(_ auth: Authorization, _ visit: Visit, csrf: String, pending: Bool = false) -> Response {
        var values = consentValues(auth, visit, csrf: csrf)
        values["pending"] = pending
        var response = page(.ok, visit, template: "oidc_consent", title: "oidc_consent_title", values: values)
        // The consent form's answer is a redirect to the relying party: CSP form-action covers
        // redirects after a form, so this page alone also allows that one origin.
        if let origin = Self.origin(of: auth.redirectURI) {
            response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
                .replacingOccurrences(of: "form-action 'self'", with: "form-action 'self' \(origin)")
        }
        return response
    }

    /// The consent form's parameters: as posted, or with `pending` the parked request's (taken
    /// once; anything else the form names is ignored). Nil: `pending` but nothing live is parked.
    func consentForm(_ form: [String: String], _ session: Sessions.Session) -> [String: String]? {
        guard form["pending"] != nil else { return form }
        guard let auth = oidcPending.take(session.id) else {
            logger.info("consent for a parked request that is gone (used, expired or never parked)")
            return nil
        }
        var params = ["client_id": auth.client.clientID, "redirect_uri": auth.redirectURI, "scope": auth.scope,
                      "code_challenge": auth.challenge]
        params["state"] = auth.state
        params["nonce"] = auth.nonce
        params["decision"] = form["decision"]
        return params
    }

    func pendingGone(_ visit: Visit) -> Response {
        page(.ok, visit, message: ("oidc_pending_gone_title", "oidc_pending_gone_lead", "/home", "oidc_to_home"))
    }
}
