import Foundation
import Hummingbird
import NIOCore

/// The helper's own pages (the PIN window). No script at all; every value shown is escaped. The
/// headers keep the service's page out: it cannot frame the page (`X-Frame-Options`, CSP
/// `frame-ancestors`), keep a handle on the window (`Cross-Origin-Opener-Policy`), or find the
/// page in a cache (`no-store`).
enum HelperPage {
    static func pinForm(_ request: HelperRequest, error: String?) -> Response {
        let challenge = request.challenge
        let refusal = error.map { "<p class=\"error\" id=\"error\">\(escape($0))</p>\n" } ?? ""
        if case .consent = challenge { return consentForm(request, refusal: refusal) }
        let body = """
            <h1>Log in with your number card</h1>
            <dl>
            <dt>Requested by the page</dt><dd id="origin">\(escape(request.origin))</dd>
            <dt>Service</dt><dd id="service">\(escape(challenge.service))</dd>
            <dt>Valid until</dt><dd id="expires">\(escape(SigningRequest.localTime(challenge.expiresAt))) (\(escape(SigningRequest.secondsLeft(challenge.expiresAt, now: Date()))))</dd>
            </dl>
            \(refusal)<p>Your card will sign this login with its user authentication key. Type the 4-digit PIN only here, never on the service's page.</p>
            <form method="post" action="/pin/\(escape(request.id))" autocomplete="off">
            <input type="hidden" name="secret" value="\(escape(request.secret))">
            <label>User authentication PIN <input type="password" name="pin" id="pin" inputmode="numeric" maxlength="4" autofocus></label>
            <button type="submit" name="action" value="sign" id="sign">Sign in</button>
            <button type="submit" name="action" value="cancel" id="cancel">Cancel</button>
            </form>
            """
        return page(status: .ok, title: "linkcore-card: log in to \(challenge.service)", body: body)
    }

    /// A link consent: the signature key, the signature PIN (6-16 letters or digits) as consent.
    static func consentForm(_ request: HelperRequest, refusal: String) -> Response {
        let challenge = request.challenge
        let body = """
            <h1>Consent with your number card's signature</h1>
            <dl>
            <dt>Requested by the page</dt><dd id="origin">\(escape(request.origin))</dd>
            <dt>Organisation receiving a link for you</dt><dd id="service">\(escape(challenge.service))</dd>
            <dt>Valid until</dt><dd id="expires">\(escape(SigningRequest.localTime(challenge.expiresAt))) (\(escape(SigningRequest.secondsLeft(challenge.expiresAt, now: Date()))))</dd>
            </dl>
            \(refusal)<p>Your card will sign this consent with its signature key: \(escape(challenge.service)) may then obtain its link to you from your signature certificate (your name, address, date of birth and sex). Type the signature PIN only here, never on the service's page.</p>
            <form method="post" action="/pin/\(escape(request.id))" autocomplete="off">
            <input type="hidden" name="secret" value="\(escape(request.secret))">
            <label>Signature PIN <input type="password" name="pin" id="pin" maxlength="16" autofocus></label>
            <button type="submit" name="action" value="sign" id="sign">Sign the consent</button>
            <button type="submit" name="action" value="cancel" id="cancel">Cancel</button>
            </form>
            """
        return page(status: .ok, title: "linkcore-card: consent for \(challenge.service)", body: body)
    }

    static func message(status: HTTPResponse.Status, title: String, text: String) -> Response {
        page(status: status, title: title, body: "<h1 id=\"title\">\(escape(title))</h1>\n<p id=\"message\">\(escape(text))</p>")
    }

    static func error(_ error: HelperError) -> Response {
        var response = page(status: .init(code: error.status), title: error.code,
                            body: "<h1 id=\"title\">Refused</h1>\n<p id=\"message\">\(escape(error.code)): \(escape(error.description))</p>")
        if case .bodyTooLarge = error { response.headers[.connection] = "close" }
        return response
    }

    static func page(status: HTTPResponse.Status, title: String, body: String) -> Response {
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
            <style>body{font-family:sans-serif;max-width:32em;margin:2em auto}.error{color:#a00}dt{font-weight:bold}</style>
            </head><body>
            \(body)
            </body></html>

            """
        var headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8",
            .cacheControl: "no-store",
            .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            .xContentTypeOptions: "nosniff",
        ]
        for (name, value) in [
            ("X-Frame-Options", "DENY"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
            // Same-origin only: the form's POST still carries `Origin` (no-referrer would make it "null").
            ("Referrer-Policy", "same-origin"),
        ] {
            if let field = FieldName(name) { headers[field] = value }
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }
}

/// HTTPTypes' field name type, reached through what Hummingbird re-exports (`HTTPFields`), for the
/// headers HTTPTypes does not predefine.
typealias FieldName = HTTPFields.Element.Name
