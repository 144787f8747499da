import Foundation
import HTTPTypes
import Hummingbird
@testable import LinkcorePortal
import LinkcoreTestSupport
import Logging
import NIOCore
import Testing

/// The return to the relying party after the card login (issue 15, item 6): the request parked
/// while logged out, single-use, short-lived, bound to one session; a forged or stale continue
/// is a page that says so, never a redirect. The whole journey in Chromium is
/// PortalJourneyBrowserTests; here the rules, against the portal's own request handler.
@Suite struct OIDCContinueTests {
    static let registered = "https://rp.example/cb"
    static let challenge = String(repeating: "A", count: 43)

    @Test func aParkedRequestIsMovedOnceTakenOnceAndExpires() {
        let clock = TestClock()
        let pending = PendingAuthorizations<String>(lifetime: 600, now: { clock.now })
        pending.park("request-1", for: "visitor")
        // Another session (a forged continue) sees nothing.
        #expect(pending.peek("someone-else") == nil)
        #expect(pending.take("someone-else") == nil)
        // The login moves it to the new session; the visitor's session no longer names it.
        #expect(pending.move(from: "visitor", to: "session"))
        #expect(pending.peek("visitor") == nil)
        #expect(!pending.move(from: "visitor", to: "attacker"))
        #expect(pending.peek("session") == "request-1")
        #expect(pending.peek("session") == "request-1")  // the consent page may be reloaded
        #expect(pending.take("session") == "request-1")
        #expect(pending.take("session") == nil)  // single use
        // Stale: ten minutes after it was parked (the login does not extend it).
        pending.park("request-2", for: "visitor-2")
        clock.advance(590)
        #expect(pending.move(from: "visitor-2", to: "session-2"))
        clock.advance(11)
        #expect(pending.peek("session-2") == nil)
        #expect(pending.take("session-2") == nil)
        pending.park("request-3", for: "visitor-3")
        clock.advance(601)
        #expect(!pending.move(from: "visitor-3", to: "session-3"))
    }

    @Test func parkingIsBoundedForVisitorsThatNeverLogIn() {
        let clock = TestClock()
        let pending = PendingAuthorizations<Int>(lifetime: 600, capacity: 100, now: { clock.now })
        for i in 0..<1_000 {
            pending.park(i, for: "visitor-\(i)")
            clock.advance(0.001)
        }
        #expect(pending.count == 100)
        // The newest are kept; the oldest made room.
        #expect(pending.peek("visitor-999") == 999)
        #expect(pending.peek("visitor-0") == nil)
    }

    @Test func theConsentAfterTheLoginUsesTheParkedParametersNotTheBrowsers() async throws {
        let portal = try await Portal()
        // Logged out at the authorization endpoint: a page asking for the login, and a visitor cookie.
        let query = "response_type=code&client_id=rp&redirect_uri=\(Self.encoded(Self.registered))&scope=openid"
            + "&state=s-123&nonce=n-456&code_challenge=\(Self.challenge)&code_challenge_method=S256"
        let asked = await portal.site.answer(portal.request(.get, "/oidc/authorize?" + query))
        #expect(asked.status == .ok)
        #expect(asked.headers[.location] == nil)
        let visitor = try #require(Portal.sessionCookie(asked))
        #expect(portal.site.oidcPending.count == 1)

        // The login (what cardLoginSubmit does): a new session, the parked request moved to it.
        let session = try await portal.sessions.create(lpLinkCode: "LP-TEST")
        #expect(portal.site.oidcPending.move(from: visitor, to: session.id))
        let consent = await portal.site.answer(portal.request(.get, "/oidc/continue", cookie: session.id))
        let page = try await Portal.text(consent)
        #expect(consent.status == .ok)
        #expect(page.contains("name=\"pending\" value=\"1\""))
        #expect(!page.contains("name=\"redirect_uri\""))  // nothing for the browser to change

        // The browser names another redirect URI and state: ignored, the parked ones are used.
        let denied = await portal.site.answer(portal.request(
            .post, "/oidc/authorize", cookie: session.id,
            form: "csrf_token=\(session.csrfToken)&pending=1&decision=deny&redirect_uri=https%3A%2F%2Fevil.example%2F&state=forged"))
        #expect(denied.status == .seeOther)
        let location = denied.headers[.location] ?? ""
        #expect(location.hasPrefix(Self.registered + "?"))
        #expect(location.contains("state=s-123") && location.contains("error=access_denied"))

        // Single use: the same form again, and the continue page again, are pages that say so.
        let again = await portal.site.answer(portal.request(
            .post, "/oidc/authorize", cookie: session.id, form: "csrf_token=\(session.csrfToken)&pending=1&decision=allow"))
        #expect(again.status == .ok && again.headers[.location] == nil)
        #expect(try await Portal.text(again).contains("期限が切れました"))
        let reopened = await portal.site.answer(portal.request(.get, "/oidc/continue", cookie: session.id))
        #expect(reopened.headers[.location] == nil)
        #expect(try await Portal.text(reopened).contains("期限が切れました"))
    }

    @Test func aForgedContinueIsAPageNeverARedirect() async throws {
        let portal = try await Portal()
        // Logged in, nothing parked: a clear page.
        let session = try await portal.sessions.create(lpLinkCode: "LP-TEST")
        let forged = await portal.site.answer(portal.request(.get, "/oidc/continue", cookie: session.id))
        #expect(forged.status == .ok && forged.headers[.location] == nil)
        #expect(try await Portal.text(forged).contains("期限が切れました"))
        // A continue with another session's parked request: nothing of it is shown.
        let other = try await portal.sessions.create(lpLinkCode: "LP-OTHER")
        let query = "response_type=code&client_id=rp&redirect_uri=\(Self.encoded(Self.registered))&scope=openid"
            + "&code_challenge=\(Self.challenge)&code_challenge_method=S256"
        let asked = await portal.site.answer(portal.request(.get, "/oidc/authorize?" + query))
        let visitor = try #require(Portal.sessionCookie(asked))
        #expect(portal.site.oidcPending.move(from: visitor, to: other.id))
        let foreign = await portal.site.answer(portal.request(.get, "/oidc/continue", cookie: session.id))
        let foreignText = try await Portal.text(foreign)
        #expect(!foreignText.contains("rp.example") && foreign.headers[.location] == nil)
        // A forged consent naming `pending` with a redirect URI of its own: no redirect anywhere.
        let posted = await portal.site.answer(portal.request(
            .post, "/oidc/authorize", cookie: session.id,
            form: "csrf_token=\(session.csrfToken)&pending=1&decision=allow&client_id=rp&redirect_uri=\(Self.encoded(Self.registered))"))
        #expect(posted.headers[.location] == nil)
        // Logged out: the logged-out page.
        let loggedOut = await portal.site.answer(portal.request(.get, "/oidc/continue"))
        #expect(loggedOut.status == .unauthorized && loggedOut.headers[.location] == nil)
        // The other session's request is still there for its owner.
        #expect(portal.site.oidcPending.peek(other.id) != nil)
    }

    static func encoded(_ s: String) -> String { PortalSite.percentEncode(s) }

    /// A portal site in this process: its own store, an OIDC provider with one client, no core.
    struct Portal {
        let temp: TempDirectory
        let sessions: Sessions
        let site: PortalSite

        init() async throws {
            temp = try TempDirectory()
            let store = try PortalStore(path: temp.url.appendingPathComponent("portal.sqlite").path)
            sessions = Sessions(store: store, timeouts: .init(idle: .seconds(900), absolute: .seconds(8 * 3600)))
            let signingKey = temp.url.appendingPathComponent("es256.pem").path
            let subjectKey = temp.url.appendingPathComponent("subject.key").path
            for command in [["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", signingKey], ["rand", "-out", subjectKey, "32"]] {
                let made = try await runToExit("/usr/bin/openssl", command, outputDirectory: temp.url)
                guard made.status == 0 else { throw TestFailure("openssl \(command): \(made.output)") }
            }
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: subjectKey)
            let client = OIDCProvider.Client(clientID: "rp", secretSHA256: [UInt8](repeating: 0, count: 32), redirectURIs: [OIDCContinueTests.registered],
                                             name: "テストの申請", nameEnglish: nil, orgCode: nil, scopes: ["openid"])
            let oidc = try OIDCProvider(
                settings: .init(issuer: "https://localhost", signingKeyPath: signingKey, subjectKeyPath: subjectKey,
                                codeLifetime: .seconds(60), tokenLifetime: .seconds(600), clients: [client]),
                store: store, linker: { _, _, _ in throw TestFailure("no core here") })
            site = try PortalSite(settings: .init(allowedHosts: ["localhost"], maxBodyBytes: 65_536), sessions: sessions,
                                  coreConnected: { false }, logger: Logger(label: "test"), oidc: oidc)
        }

        func request(_ method: HTTPRequest.Method, _ path: String, cookie: String? = nil, form: String? = nil) -> Request {
            var head = HTTPRequest(method: method, scheme: "https", authority: "localhost", path: path)
            if let cookie { head.headerFields[.cookie] = "\(Sessions.cookieName)=\(cookie)" }
            if form != nil { head.headerFields[.contentType] = "application/x-www-form-urlencoded" }
            return Request(head: head, body: .init(buffer: ByteBuffer(string: form ?? "")))
        }

        static func sessionCookie(_ response: Response) -> String? {
            for field in response.headers[values: .setCookie] where field.hasPrefix(Sessions.cookieName + "=") {
                return String(field.dropFirst(Sessions.cookieName.count + 1).prefix { $0 != ";" })
            }
            return nil
        }

        static func text(_ response: Response) async throws -> String {
            let collector = Collector()
            let body = response.body
            try await body.write(collector)
            return collector.text
        }
    }
}

/// Collects a response body written by the site (a struct writer over a shared box).
final class BodyBox: @unchecked Sendable {
    var buffer = ByteBuffer()
}

struct Collector: ResponseBodyWriter {
    let box = BodyBox()
    var text: String { String(buffer: box.buffer) }
    mutating func write(_ buffer: ByteBuffer) async throws { var b = buffer; box.buffer.writeBuffer(&b) }
    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
