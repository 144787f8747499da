import Foundation
import HTTPTypes
import Hummingbird
import LinkcoreWire
import NIOCore

/// The OpenID Connect provider's routes (issue 15, item 6; docs/portal.md "Sign in to other
/// services"). Errors follow OAuth: `error=` goes back to the redirect URI only when the client
/// and that exact URI are registered; otherwise the resident gets a page (no open redirect).
extension PortalSite {
    static let discoveryPath = "/.well-known/openid-configuration"
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")

    /// The answer for an OIDC path, or nil for any other path (or when no provider is configured:
    /// then the paths are the site's 404).
    func oidcRoute(_ request: Request, _ visit: Visit) async throws -> Response? {
        let path = request.uri.path
        guard let oidc, path == Self.discoveryPath || path.hasPrefix("/oidc/") else { return nil }
        switch (request.method, path) {
        case (.get, Self.discoveryPath): return json(.ok, oidc.discovery, cache: "max-age=300")
        case (.get, "/oidc/jwks.json"): return json(.ok, oidc.jwks, cache: "max-age=300")
        case (.get, "/oidc/authorize"): return try await authorize(request, visit, oidc)
        case (.post, "/oidc/authorize"): return try await consent(request, visit, oidc)
        case (.get, Self.oidcContinuePath): return try await continueAuthorization(request, visit)
        case (.post, "/oidc/token"): return try await token(request, oidc)
        case (.get, "/oidc/userinfo"), (.post, "/oidc/userinfo"): return try await userinfo(request, oidc)
        case (_, Self.discoveryPath), (_, "/oidc/jwks.json"), (_, "/oidc/authorize"), (_, "/oidc/token"):
            return page(.methodNotAllowed, visit, message: ("method_title", "method_lead", "/", "back_home"))
        default: return nil
        }
    }

    // MARK: Authorization endpoint

    struct Authorization {
        var client: OIDCProvider.Client
        var redirectURI: String
        var state: String?
        var nonce: String?
        var challenge: String
        var scope: String
    }

    enum AuthorizationCheck {
        case accepted(Authorization)
        /// Answered already: a page (unknown client or redirect URI) or an error redirect.
        case answered(Response)
    }

    /// RFC 6749 §4.1.2.1 order: the client and its exact redirect URI first (else a page, never a
    /// redirect), then everything else as an error sent back to that URI.
    func checkAuthorization(_ p: [String: String], _ visit: Visit, _ oidc: OIDCProvider) -> AuthorizationCheck {
        guard let client = oidc.client(p["client_id"]) else {
            logger.notice("authorization request from an unregistered client")
            return .answered(page(.badRequest, visit, message: ("oidc_client_title", "oidc_client_lead", "/", "back_home")))
        }
        guard let redirectURI = p["redirect_uri"], client.redirectURIs.contains(redirectURI) else {
            logger.notice("authorization request with an unregistered redirect_uri", metadata: ["client_id": "\(client.clientID)"])
            return .answered(page(.badRequest, visit, message: ("oidc_redirect_title", "oidc_redirect_lead", "/", "back_home")))
        }
        let state = p["state"].flatMap { $0.isEmpty ? nil : $0 }
        func fail(_ error: String, _ description: String) -> AuthorizationCheck {
            .answered(redirect(to: redirectURI, ["error": error, "error_description": description, "state": state, "iss": oidc.settings.issuer]))
        }
        if let state, state.utf8.count > 512 { return fail("invalid_request", "state is longer than 512 bytes") }
        guard p["response_type"] == "code" else { return fail("unsupported_response_type", "only response_type=code is served") }
        let scopes = (p["scope"] ?? "").split(separator: " ").map(String.init)
        guard scopes.contains("openid") else { return fail("invalid_scope", "scope must include openid") }
        guard scopes.allSatisfy(client.scopes.contains) else { return fail("invalid_scope", "a scope is not registered for this client") }
        guard let challenge = p["code_challenge"], OIDCProvider.isChallenge(challenge) else {
            return fail("invalid_request", "PKCE is required: code_challenge (43 characters) with code_challenge_method=S256")
        }
        guard p["code_challenge_method"] == "S256" else { return fail("invalid_request", "code_challenge_method must be S256") }
        let nonce = p["nonce"].flatMap { $0.isEmpty ? nil : $0 }
        if let nonce, nonce.utf8.count > 512 { return fail("invalid_request", "nonce is longer than 512 bytes") }
        if p["request"] != nil || p["request_uri"] != nil { return fail("request_not_supported", "request objects are not served") }
        return .accepted(Authorization(client: client, redirectURI: redirectURI, state: state, nonce: nonce, challenge: challenge,
                                       scope: scopes.joined(separator: " ")))
    }

    func authorize(_ request: Request, _ visit: Visit, _ oidc: OIDCProvider) async throws -> Response {
        let params = Self.parseForm(request.uri.query ?? "")
        let auth: Authorization
        switch checkAuthorization(params, visit, oidc) {
        case .answered(let response): return response
        case .accepted(let accepted): auth = accepted
        }
        let session = try await currentSession(request)
        if params["prompt"] == "none" {
            // Consent is asked every time, so a silent request can never be granted.
            let error = session?.isLoggedIn == true ? "consent_required" : "login_required"
            return redirect(to: auth.redirectURI, ["error": error, "state": auth.state, "iss": oidc.settings.issuer])
        }
        if session == nil, Self.secFetchSite.flatMap({ request.headers[$0] }) == "cross-site" {
            // The session cookie is SameSite=Strict, so a browser arriving from the relying party
            // (cross-site) does not send it. A page of ours that reloads the same URL makes the
            // next request same-site, with the cookie; a second arrival without it is logged out.
            return page(.ok, visit, template: "oidc_continue", title: "oidc_continue_title",
                        values: ["self_href": request.uri.description])
        }
        // Logged out: parked until the card login, which comes back here (PortalSite+OIDCContinue.swift).
        guard let session, session.isLoggedIn else { return try await parkAndAskLogin(auth, request, visit) }
        return consentPage(auth, visit, csrf: session.csrfToken)
    }

    func consentValues(_ auth: Authorization, _ visit: Visit, csrf: String) -> [String: Any] {
        let name = visit.language == .en ? (auth.client.nameEnglish ?? auth.client.name) : auth.client.name
        return [
            "csrf": csrf, "service": name, "is_org": auth.client.orgCode != nil, "org_code": auth.client.orgCode ?? "",
            "client_id": auth.client.clientID, "redirect_uri": auth.redirectURI, "state": auth.state ?? "", "nonce": auth.nonce ?? "",
            "code_challenge": auth.challenge, "scope": auth.scope, "redirect_origin": Self.origin(of: auth.redirectURI) ?? "",
        ]
    }

    /// The consent form: allow → a code (with `sub` decided now), deny → access_denied.
    func consent(_ request: Request, _ visit: Visit, _ oidc: OIDCProvider) async throws -> Response {
        switch try await checkedForm(request, visit) {
        case .refused(let response): return response
        case .accepted(let session, let posted):
            guard let form = consentForm(posted, session) else { return pendingGone(visit) }
            var params = form
            params["response_type"] = "code"
            params["code_challenge_method"] = "S256"
            let auth: Authorization
            switch checkAuthorization(params, visit, oidc) {
            case .answered(let response): return response
            case .accepted(let accepted): auth = accepted
            }
            guard let lp = session.lpLinkCode else { return sessionEnded(visit) }
            let iss = oidc.settings.issuer
            guard form["decision"] == "allow" else {
                logger.info("sign-in refused by the resident", metadata: ["client_id": "\(auth.client.clientID)"])
                return redirect(to: auth.redirectURI, ["error": "access_denied", "error_description": "the resident did not consent",
                                                            "state": auth.state, "iss": iss])
            }
            let subject: String
            do {
                subject = try await oidc.subject(for: auth.client, lp: lp)
            } catch let error as WireError {
                logger.warning("no sign-in link from the core", metadata: ["client_id": "\(auth.client.clientID)", "code": "\(error.code)",
                                                                          "error": "\(error.message)"])
                let (code, description) = error.code == .unavailable || error.code == .deadlineExceeded
                    ? ("temporarily_unavailable", "the portal cannot reach the core now; try again later")
                    : ("access_denied", "the portal cannot give this service a subject for the resident")
                return redirect(to: auth.redirectURI, ["error": code, "error_description": description, "state": auth.state, "iss": iss])
            }
            let code = try await oidc.issueCode(client: auth.client, redirectURI: auth.redirectURI, challenge: auth.challenge,
                                                nonce: auth.nonce, scope: auth.scope, subject: subject, authTimeMs: session.createdAtMs)
            logger.info("sign-in consented", metadata: ["client_id": "\(auth.client.clientID)"])  // never the subject
            return redirect(to: auth.redirectURI, ["code": code, "state": auth.state, "iss": iss])
        }
    }

    // MARK: Token and userinfo endpoints

    func token(_ request: Request, _ oidc: OIDCProvider) async throws -> Response {
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: settings.maxBodyBytes) } catch { throw FormFailure.tooLarge }
        let form = Self.parseForm(String(buffer: buffer))
        logger.debug("token request", metadata: ["body_bytes": "\(buffer.readableBytes)", "fields": "\(form.keys.sorted())"])
        // Client authentication (RFC 6749 §2.3.1): Basic, or the secret in the body; not both.
        let basic = request.headers[.authorization].flatMap(Self.basicCredentials)
        if basic != nil && form["client_secret"] != nil {
            return oauthError(.badRequest, "invalid_request", "use one client authentication method")
        }
        guard let credentials = basic ?? form["client_id"].flatMap({ id in form["client_secret"].map { (id, $0) } }),
              let client = oidc.client(credentials.0), oidc.authenticates(client, secret: credentials.1) else {
            logger.notice("token request with a failed client authentication")
            var response = oauthError(.unauthorized, "invalid_client", "client authentication failed")
            response.headers[.wwwAuthenticate] = "Basic realm=\"linkcore-portal\""
            return response
        }
        if let named = form["client_id"], named != client.clientID {
            return oauthError(.badRequest, "invalid_request", "client_id does not match the authenticated client")
        }
        guard form["grant_type"] == "authorization_code" else {
            return oauthError(.badRequest, "unsupported_grant_type", "only authorization_code is served")
        }
        guard let code = form["code"], !code.isEmpty, let redirectURI = form["redirect_uri"] else {
            return oauthError(.badRequest, "invalid_request", "code and redirect_uri are required")
        }
        switch try await oidc.redeem(client: client, code: code, redirectURI: redirectURI, verifier: form["code_verifier"] ?? "") {
        case .success(let tokens):
            logger.info("tokens issued", metadata: ["client_id": "\(client.clientID)"])
            return json(.ok, ["access_token": tokens.accessToken, "token_type": "Bearer", "expires_in": tokens.expiresIn,
                              "id_token": tokens.idToken, "scope": tokens.scope], cache: "no-store")
        case .failure(.replayed(let revoked)):
            logger.warning("authorization code replayed; its tokens are revoked", metadata: ["client_id": "\(client.clientID)",
                                                                                           "revoked": "\(revoked)"])
            return oauthError(.badRequest, "invalid_grant", "the code was already used; the tokens it issued are revoked")
        case .failure(.invalidGrant(let why)):
            return oauthError(.badRequest, "invalid_grant", why)
        }
    }

    func userinfo(_ request: Request, _ oidc: OIDCProvider) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
              let subject = try await oidc.userinfo(accessToken: String(header.dropFirst("Bearer ".count))) else {
            var response = oauthError(.unauthorized, "invalid_token", "the access token is unknown, expired or revoked")
            response.headers[.wwwAuthenticate] = "Bearer error=\"invalid_token\""
            return response
        }
        return json(.ok, ["sub": subject], cache: "no-store")
    }

    // MARK: Helpers

    func oauthError(_ status: HTTPResponse.Status, _ error: String, _ description: String) -> Response {
        json(status, ["error": error, "error_description": description], cache: "no-store")
    }

    func json(_ status: HTTPResponse.Status, _ object: [String: Any], cache: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        let bytes = (try? OIDCProvider.json(object)) ?? Array("{}".utf8)
        var response = finish(Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes))), cache: cache)
        if cache == "no-store", let pragma = HTTPField.Name("Pragma") { response.headers[pragma] = "no-cache" }
        return response
    }

    /// 303 to a registered redirect URI with the given parameters (nil values left out).
    func redirect(to uri: String, _ parameters: [String: String?]) -> Response {
        let query = parameters.compactMap { key, value in value.map { "\(key)=\(Self.percentEncode($0))" } }.sorted().joined(separator: "&")
        var headers = HTTPFields()
        headers[.location] = uri + (uri.contains("?") ? "&" : "?") + query
        return finish(Response(status: .seeOther, headers: headers), cache: "no-store")
    }

    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func percentEncode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    static func origin(of uri: String) -> String? {
        guard let url = URL(string: uri), let scheme = url.scheme, let host = url.host else { return nil }
        return "\(scheme)://\(host.contains(":") ? "[\(host)]" : host)" + (url.port.map { ":\($0)" } ?? "")
    }

    /// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
    static func basicCredentials(_ header: String) -> (String, String)? {
        guard header.hasPrefix("Basic "), let data = Data(base64Encoded: String(header.dropFirst(6))),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") else { return nil }
        func decode(_ s: Substring) -> String? { s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
        guard let id = decode(text[..<colon]), let secret = decode(text[text.index(after: colon)...]) else { return nil }
        return (id, secret)
    }
}
