import Foundation
import LinkcoreClient
import LinkcoreRegistry
import LinkcoreWire
import Testing

/// Issue 12, finding 7(b): the matcher answered any certificate of the network CA. For an
/// organisation that may not hold links, no match gave MATCH_FAILED and a match gave the core's
/// ORG_UNKNOWN / ORG_SUSPENDED / INVALID_ARGUMENT: an oracle on four facts or a My Number, with no
/// link and no log entry. Now the requester is checked with the core before matching, and
/// failed matches are rate-limited per organisation.
@Suite(.serialized) struct MatcherRequesterTests {
    static let stranger = Resident(residentCode: "10000000009", myNumber: LinkIssuanceTests.myNumber("12345678909"), name: "無名 太郎",
                                   nameKana: "ムメイ タロウ", address: "北海道札幌市中央区北1条西2丁目", birthDate: "1990-01-01", sex: .male)

    func answer(_ connection: LinkcoreConnection, _ request: LCMatchRequest) async -> String {
        do {
            let reply = try await connection.request(.matchRequest(request))
            if case .matchAccepted? = reply { return "accepted" }
            return "reply \(reply.map { "\($0)" } ?? "none")"
        } catch let error as WireError {
            return "\(error.code)"
        } catch {
            return "\(error)"
        }
    }

    @Test func aRequesterThatMayNotHoldLinksGetsOneAnswerWhateverTheFacts() async throws {
        let tests = LinkIssuanceTests()
        let net = try await tests.startNetwork(orgs: ["CITY01", "SUSP01"])
        // A second matcher (a role that holds no links), and a network certificate never registered.
        _ = try net.daemon.pki.issueOrg("MATCH02")
        _ = try await net.daemon.admin(.orgAdd(.with { $0.org = .with { $0.code = "MATCH02"; $0.name = "M2"; $0.role = .matcher; $0.sector = .public } }))
        _ = try net.daemon.pki.issueOrg("GHOST01")
        guard case .orgResponse? = try await net.daemon.admin(.orgSetSuspended(.with { $0.code = "SUSP01"; $0.suspended = true })) else {
            Issue.record("suspension refused"); return
        }
        let matching = tests.matchRequest(LinkIssuanceTests.alice)
        let notMatching = tests.matchRequest(Self.stranger)
        for (org, expected) in [("SUSP01", "orgSuspended"), ("GHOST01", "orgUnknown"), ("MATCH02", "permissionDenied")] {
            let connection = try await net.matcher.connect(as: org)
            let yes = await answer(connection, matching)
            let no = await answer(connection, notMatching)
            var byNumber = LCMatchRequest()
            byNumber.consentRef = "consent-1"
            byNumber.myNumber = LinkIssuanceTests.alice.myNumber
            let number = await answer(connection, byNumber)
            #expect(yes == expected && no == expected && number == expected, "\(org): match \(yes), no match \(no), My Number \(number)")
            await connection.close()
        }
        // A registered agency still matches.
        let city = try await net.matcher.connect(as: "CITY01")
        #expect(await answer(city, tests.matchRequest(LinkIssuanceTests.alice)) == "accepted")
        #expect(await answer(city, notMatching) == "matchFailed")
        await city.close()
    }

    @Test func failedMatchesAreRateLimitedPerOrganisation() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("MATCHER", role: .matcher)
        for org in ["CITY01", "CITY02"] { try daemon.addOrg(org) }
        try await daemon.start()
        let registryPath = daemon.temp.url.appendingPathComponent("registry.sqlite").path
        try RegistryStore(path: registryPath).insert([LinkIssuanceTests.alice])
        let matcher = try MatcherProcess(pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("matcher"),
                                         corePort: daemon.port, registryPath: registryPath,
                                         extraConfig: ["matching": "max_failed_matches = 3\nfailed_match_window_ms = 600000"])
        try await matcher.start()
        let tests = LinkIssuanceTests()
        let city = try await matcher.connect(as: "CITY01")
        for _ in 0..<3 { #expect(await answer(city, tests.matchRequest(Self.stranger)) == "matchFailed") }
        // The fourth guess, and even facts that would match, get RATE_LIMITED with retry_after_ms.
        do {
            _ = try await city.request(.matchRequest(tests.matchRequest(LinkIssuanceTests.alice)))
            Issue.record("a match was served over the failure budget")
        } catch let error as WireError {
            #expect(error.code == .rateLimited && error.retryable, "\(error)")
            #expect(error.retryAfterMs > 500_000 && error.retryAfterMs <= 600_000, "\(error.retryAfterMs)")
        }
        #expect(await answer(city, tests.matchRequest(Self.stranger)) == "rateLimited")
        // Another organisation has its own budget.
        let other = try await matcher.connect(as: "CITY02")
        #expect(await answer(other, tests.matchRequest(LinkIssuanceTests.alice)) == "accepted")
        await city.close()
        await other.close()
    }
}
