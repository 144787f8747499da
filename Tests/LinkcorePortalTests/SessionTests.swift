import Foundation
import LinkcorePortal
import LinkcoreTestSupport
import Synchronization
import Testing

/// A clock the test moves by hand: time passes without sleeping.
final class TestClock: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    var now: Date { current.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

@Suite struct SessionTests {
    let temp: TempDirectory
    let store: PortalStore
    let clock = TestClock()
    let sessions: Sessions

    init() throws {
        temp = try TempDirectory()
        store = try PortalStore(path: temp.url.appendingPathComponent("portal.sqlite").path)
        let clock = self.clock
        sessions = Sessions(store: store, timeouts: .init(idle: .seconds(900), absolute: .seconds(8 * 3600)), now: { clock.now })
    }

    @Test func idleTimeoutEndsASessionLeftUnused() async throws {
        let session = try await sessions.create(lpLinkCode: "LP-A")
        clock.advance(14 * 60)
        #expect(try await sessions.resume(session.id) == .success(session))
        // Each use restarts the idle timer: 28 minutes after login, 14 after the last use, still live.
        clock.advance(14 * 60)
        #expect(try await sessions.resume(session.id) == .success(session))
        clock.advance(15 * 60)
        #expect(try await sessions.resume(session.id) == .failure(.idle))
        // Gone from the store, not just refused once.
        #expect(try await sessions.resume(session.id) == .failure(.unknown))
    }

    @Test func absoluteTimeoutEndsASessionInUse() async throws {
        let session = try await sessions.create(lpLinkCode: "LP-A")
        for _ in 0..<47 {  // 47 x 10 min = 7 h 50 min, never idle
            clock.advance(10 * 60)
            #expect(try await sessions.resume(session.id) == .success(session))
        }
        clock.advance(10 * 60)
        #expect(try await sessions.resume(session.id) == .failure(.expired))
    }

    @Test func forgedAndMalformedCookiesNameNoSession() async throws {
        let session = try await sessions.create()
        var forged = Array(session.id)
        forged[0] = forged[0] == "A" ? "B" : "A"
        #expect(try await sessions.resume(String(forged)) == .failure(.unknown))
        for bad in ["", "short", String(repeating: "A", count: 44), String(repeating: "'", count: 43), session.id + "="] {
            #expect(try await sessions.resume(bad) == .failure(.malformed))
        }
        #expect(try await sessions.resume(session.id) == .success(session))
    }

    @Test func csrfTokenMustBeTheSessionsOwn() async throws {
        let one = try await sessions.create()
        let other = try await sessions.create()
        #expect(one.csrfToken != other.csrfToken && one.id != other.id && one.id.count == 43)
        #expect(Sessions.csrfMatches(one.csrfToken, one))
        #expect(!Sessions.csrfMatches(other.csrfToken, one))
        #expect(!Sessions.csrfMatches(nil, one))
        #expect(!Sessions.csrfMatches("", one))
        #expect(!Sessions.csrfMatches(String(one.csrfToken.dropLast()), one))
    }

    @Test func loggingOutDeletesTheSession() async throws {
        let session = try await sessions.create(lpLinkCode: "LP-A")
        try await sessions.end(session)
        #expect(try await sessions.resume(session.id) == .failure(.unknown))
        #expect(try await store.sessionCount() == 0)
    }
}

@Suite struct PortalStoreTests {
    @Test func renewedCertificatesFollowTheBindingByGeneration() async throws {
        let temp = try TempDirectory()
        let path = temp.url.appendingPathComponent("portal.sqlite").path
        let store = try PortalStore(path: path)
        let first = try await store.bind(certSerial: "0a1b", lpLinkCode: "LP-1", nowMs: 1000)
        #expect(first.generation == 1 && first.certSerial == "0A1B")
        let renewed = try await store.bind(certSerial: "0C2D", lpLinkCode: "LP-1", nowMs: 2000)
        #expect(renewed.generation == 2)
        #expect(try await store.binding(certSerial: "0A1B")?.supersededBy == "0C2D")
        // Binding again is idempotent, and another resident starts at generation 1.
        #expect(try await store.bind(certSerial: "0C2D", lpLinkCode: "LP-1", nowMs: 3000) == renewed)
        #expect(try await store.bind(certSerial: "FF", lpLinkCode: "LP-2", nowMs: 3000).generation == 1)
        // Durable: a second connection (as after a restart) reads the same.
        #expect(try await PortalStore(path: path).binding(certSerial: "0c2d")?.lpLinkCode == "LP-1")
    }

    @Test func noticesAreStoredOnceAndLeaveTheFolderAfterRetention() async throws {
        let temp = try TempDirectory()
        let store = try PortalStore(path: temp.url.appendingPathComponent("portal.sqlite").path)
        let notice = PortalStore.Notice(noticeID: "N1", lpLinkCode: "LP-1", senderOrg: "CITY01", noticeType: "tax",
                                        title: "<b>title</b>", body: "body", sentAtMs: 10, receivedAtMs: 20, expiresAtMs: 1000)
        #expect(try await store.storeNotice(notice))
        #expect(try await !store.storeNotice(notice))  // delivered again: at least once, stored once
        #expect(try await store.folder(lpLinkCode: "LP-1", nowMs: 999) == [notice])
        #expect(try await store.folder(lpLinkCode: "LP-1", nowMs: 1000).isEmpty)
        #expect(try await store.folder(lpLinkCode: "LP-2", nowMs: 0).isEmpty)
    }
}
