import Foundation
import LinkcoreDomain
import LinkcoreStore
import LinkcoreTestSupport
import Testing

/// Notices at the domain, over a real SQLite store and keyring (protocol.md §14): the checks,
/// the conversion to LP, the outbox and its access-log entry, repeats under a key, delivery.
@Suite struct NoticeServiceTests {
    let base = MediatorTests()

    func service(_ w: MediatorTests.World) -> NoticeService {
        NoticeService(store: w.store, links: w.links, whitelist: TestWhitelist("N1,NOTICE,CITY01,PORTAL,tax-reminder"),
                      now: { MediatorTests.now })
    }

    func notice(_ la: String, type: String = "tax-reminder", title: String = "お知らせ", body: String = "本文", key: String = "k-1") -> NoticeRequest {
        NoticeRequest(linkCode: la, noticeType: type, title: title, body: body, idempotencyKey: key)
    }

    @Test(arguments: TestStoreEngine.allCases) func anAcceptedNoticeIsLoggedQueuedUnderLPAndForgottenOnceAcknowledged(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: base.path) }
        let w = try await base.makeWorld(engine)
        let s = service(w)
        let la = w.code("CITY01", "10000000001")
        let receipt = try await s.send(notice(la), sender: "CITY01").get()
        #expect(receipt.noticeID.hasPrefix("nt-") && receipt.noticeID.count == 35 && !receipt.repeated && receipt.portal == "PORTAL")

        // The repeat names the same notice; the same key with another text is refused.
        let again = try await s.send(notice(la), sender: "CITY01").get()
        #expect(again.noticeID == receipt.noticeID && again.repeated)
        #expect(await s.send(notice(la, title: "別"), sender: "CITY01").failure == NoticeService.keyReused)

        // One access-log entry for the resident, under BP-ID NOTICE, naming the portal as provider.
        let id = try #require(try await w.links.open(la, orgCode: "CITY01")).idCode
        let entries = try await w.store.loggedAccess(idCode: id, fromMs: 0, toMs: .max, afterPosition: 0, limit: 10)
        #expect(entries.map(\.chained.record.mediationID) == [receipt.noticeID])
        #expect(entries.first?.chained.record.bpID == "NOTICE" && entries.first?.chained.record.provider == "PORTAL")
        #expect(entries.first?.chained.record.infoType == "tax-reminder" && entries.first?.chained.record.outcome == .answered)

        // Pending for the portal, under LP; acknowledged, it is no longer pending and its text is gone.
        let pending = try await s.pending(portal: "PORTAL", afterSeq: 0, limit: 10).get()
        #expect(pending.map(\.notice.noticeID) == [receipt.noticeID])
        #expect(pending.first?.notice.linkCode == w.code("PORTAL", "10000000001"))
        #expect(pending.first?.notice.senderName == "Name of CITY01" && pending.first?.notice.body == "本文")
        #expect(try await s.acknowledge(portal: "PORTAL", noticeID: receipt.noticeID).get())
        #expect(try await !s.acknowledge(portal: "PORTAL", noticeID: receipt.noticeID).get())
        #expect(try await s.pending(portal: "PORTAL", afterSeq: 0, limit: 10).get().isEmpty)
        let kept = try #require(try await w.store.notice(sender: "CITY01", key: "k-1"))
        #expect(kept.title.isEmpty && kept.body.isEmpty && kept.deliveredAtMs == MediatorTests.now)
    }

    @Test(arguments: TestStoreEngine.allCases) func refusals(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: base.path) }
        let w = try await base.makeWorld(engine)
        let s = service(w)
        let la = w.code("CITY01", "10000000001")
        func code(_ r: NoticeRequest, _ sender: String = "CITY01") async -> Refusal.Code? { await s.send(r, sender: sender).failure?.code }
        // Shapes and sizes.
        #expect(await code(notice(la, type: "bad type")) == .invalidArgument)
        #expect(await code(notice(la, key: "")) == .invalidArgument)
        #expect(await code(notice(la, title: String(repeating: "a", count: 201))) == .invalidArgument)
        #expect(await code(notice(la, body: String(repeating: "a", count: 8193))) == .invalidArgument)
        #expect(await code(notice(la, body: String(repeating: "a", count: 8192), key: "max")) == nil)
        #expect(await code(notice(la, title: "a\nb", key: "t")) == .invalidArgument)
        #expect(await code(notice(la, body: "a\u{1b}[31m", key: "e")) == .invalidArgument)
        #expect(await code(notice(la, body: "line 1\n\tline 2", key: "lf")) == nil)
        // A forged code and another organisation's code: the one refusal.
        #expect(await s.send(notice(la + "x", key: "f"), sender: "CITY01").failure == LinkService.invalidLinkCode)
        #expect(await s.send(notice(w.code("TAX01", "10000000001"), key: "g"), sender: "CITY01").failure == LinkService.invalidLinkCode)
        // No row for the type, or for the sender; roles that may not send; a suspended sender.
        #expect(await code(notice(la, type: "parking-fine", key: "p")) == .notPermitted)
        #expect(await code(notice(w.code("TAX01", "10000000001"), key: "q"), "TAX01") == .notPermitted)
        #expect(await code(notice(w.code("PORTAL", "10000000001"), key: "r"), "PORTAL") == .permissionDenied)
        #expect(await code(notice(w.code("SLEEPY01", "10000000001"), key: "s"), "SLEEPY01") == .orgSuspended)
    }
}
