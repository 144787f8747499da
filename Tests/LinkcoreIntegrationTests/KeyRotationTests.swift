import Foundation
import LinkcoreClient
@testable import LinkcoreLinkCodes
import LinkcoreRegistry
import LinkcoreWire
import Testing

/// Key rotation with real processes (linkcored, linkcore-matcher, linkctl): new links use the new
/// key index, which travels inside the code; codes under the old and the new index both convert;
/// forged, re-indexed and foreign codes all get one and the same reply.
extension LinkIssuanceTests {
    static let bob = Resident(residentCode: "10000000004", myNumber: myNumber("12345678904"), name: "鈴木 一郎", nameKana: "スズキ イチロウ",
                              address: "北海道札幌市中央区北1条西2丁目7番地", birthDate: "1965-12-24", sex: .male)

    /// Matches `resident` for the organisation behind `matcher` and returns the link the core pushed.
    func link(_ resident: Resident, at matcher: LinkcoreConnection, inbox: Inbox) async throws -> LCLinkIssued {
        guard case let .matchAccepted(accepted)? = try await matcher.request(.matchRequest(matchRequest(resident))) else {
            throw TestFailure("no MatchAccepted for \(resident.residentCode)")
        }
        return try await inbox.wait(for: accepted.matchingNumber)
    }

    @Test func keyRotationNewLinksUseTheNewIndexAndOldAndNewCodesBothConvert() async throws {
        let network = try await startNetwork(orgs: ["CITY01", "TAX01"], residents: [Self.bob])
        let daemon = network.daemon
        let cityInbox = Inbox()
        let city = try await LinkcoreConnection.connect(
            to: .tcp(host: "127.0.0.1", port: daemon.port), tls: try daemon.pki.clientTLS("CITY01"),
            hello: LinkcoreConnection.defaultHello(software: "test", acceptsPushes: true), incoming: cityInbox.handler)
        let taxInbox = Inbox()
        let tax = try await LinkcoreConnection.connect(
            to: .tcp(host: "127.0.0.1", port: daemon.port), tls: try daemon.pki.clientTLS("TAX01"),
            hello: LinkcoreConnection.defaultHello(software: "test", acceptsPushes: true), incoming: taxInbox.handler)
        let cityAtMatcher = try await network.matcher.connect(as: "CITY01")
        let taxAtMatcher = try await network.matcher.connect(as: "TAX01")

        // Before the rotation: key index 1, shown in the code's first two characters.
        let old = try await link(Self.alice, at: cityAtMatcher, inbox: cityInbox)
        #expect(old.keyIndex == 1)
        #expect(old.linkCode.hasPrefix("01"), "\(old.linkCode)")

        // The operator rotates CITY01's key with the real linkctl over the admin socket.
        let (status, output) = try await daemon.linkctl(["keys", "rotate", "--org", "CITY01"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("CITY01: new links use key index 2"), "\(output)")
        let (_, shown) = try await daemon.linkctl(["org", "show", "CITY01"])
        #expect(shown.contains("key index: 2"), "\(shown)")

        // A second resident's new link is made under key index 2, and says so inside the code.
        let new = try await link(Self.bob, at: cityAtMatcher, inbox: cityInbox)
        #expect(new.keyIndex == 2)
        #expect(new.linkCode.hasPrefix("02"), "\(new.linkCode)")
        #expect(LinkCodeFormat.decode(new.linkCode)?.index == 2)
        #expect(LinkCodeFormat.decode(old.linkCode)?.index == 1)
        // The first resident's existing link is unchanged: same code, old index (re-keying is separate).
        let again = try await link(Self.alice, at: cityAtMatcher, inbox: cityInbox)
        #expect(again.linkCode == old.linkCode)
        #expect(again.keyIndex == 1)
        // Another organisation's key did not move.
        let foreign = try await link(Self.alice, at: taxAtMatcher, inbox: taxInbox)
        #expect(foreign.keyIndex == 1)

        // Refusals: a mistyped code (check character), the old code's block relabelled with the
        // new index (well-formed text that no key opens), another organisation's live code, and a
        // well-formed code under an index never issued. One identical reply for all.
        var mistyped = Array(new.linkCode)
        mistyped[12] = mistyped[12] == "A" ? "B" : "A"
        let oldFields = try #require(LinkCodeFormat.decode(old.linkCode))
        let relabelled = LinkCodeFormat.encode(index: 2, block: oldFields.block)
        let unissuedIndex = LinkCodeFormat.encode(index: 7, block: oldFields.block)
        #expect(LinkCodeFormat.normalise(relabelled) == relabelled, "the relabelled code must be well-formed")
        var replies: [WireError?] = []
        for code in [String(mistyped), relabelled, unissuedIndex, foreign.linkCode] {
            replies.append(await refusal { try await city.request(.unlink(.with { $0.linkCode = code })) })
        }
        #expect(replies[0]?.code == .invalidLinkCode, "\(replies)")
        #expect(replies.allSatisfy { $0 == replies[0] }, "\(replies)")

        // Both codes convert: unlinking looks each up under its own key index.
        for code in [old.linkCode, new.linkCode] {
            guard case .unlinkResponse? = try await city.request(.unlink(.with { $0.linkCode = code })) else {
                Issue.record("\(code) did not convert"); return
            }
            // Once unlinked, it answers like a forged code.
            #expect(await refusal { try await city.request(.unlink(.with { $0.linkCode = code })) } == replies[0])
        }
        // The foreign organisation's code still converts for its owner.
        guard case .unlinkResponse? = try await tax.request(.unlink(.with { $0.linkCode = foreign.linkCode })) else {
            Issue.record("TAX01's code did not convert"); return
        }

        for connection in [city, tax, cityAtMatcher, taxAtMatcher] { await connection.close() }
    }
}
