import Foundation
import LinkcoreClient
import LinkcoreWire
import Testing
import LinkcoreTestSupport

/// Mediation end to end: linkcored as a child process, `linkcore-adapter` processes as
/// requesters (ask) and providers (provide), all over mutual TLS on loopback.
@Suite(.serialized) struct MediationTests {
    static let residents = (1...4).map { "2000000000\($0)" }

    /// On both store engines (issue 16): the same flow on SQLite and on PostgreSQL.
    @Test(arguments: TestStoreEngine.allCases) func allowedFlowAndEachRefusal(engine: TestStoreEngine) async throws {
        let net = try await MediationNetwork(requesters: ["CITY01", "CITY02"],
                                             providers: ["TAX01", "OFFLINE01", "NOPE01", "SLEEPY01"], engine: engine)
        defer { net.stop() }
        let linked = Array(Self.residents.prefix(3))
        try await net.link(residents: linked, to: ["CITY01", "CITY02", "TAX01", "OFFLINE01", "NOPE01", "SLEEPY01", "PORTAL"])
        try await net.link(residents: [Self.residents[3]], to: ["CITY01", "PORTAL"])  // not linked to any provider
        try await net.startProvider("TAX01")
        try await net.startProvider("NOPE01", options: ["--refuse", "CLOSED_FILE"])
        try await net.startProvider("SLEEPY01")
        _ = try await net.daemon.admin(.orgSetSuspended(.with { $0.code = "SLEEPY01"; $0.suspended = true }))

        // Allowed: each resident's answer comes back for A's own code.
        let answered = try await net.ask(as: "CITY01", provider: "TAX01", residents: linked, count: 3)
        #expect(answered.map(\.answer) == linked.map { MediationNetwork.answer(for: $0) })
        #expect(answered.allSatisfy { $0.mediationId?.isEmpty == false })
        // Whitelist: CITY02 may ask TAX01 for income (wildcard) but not SLOW01, and nobody may ask for pensions.
        #expect(try await net.ask(as: "CITY01", provider: "TAX01", residents: linked, info: "pension").first?.code == 300)
        #expect(try await net.ask(as: "CITY02", provider: "OFFLINE01", residents: linked).first?.code == 300)
        // A forged code and another organisation's code: one reply. A resident B has no link to:
        // B's own "no record" (issue 12, finding 7a; MediationNoRecordTests).
        var forged = Array(net.code("CITY01", linked[0]))
        forged[10] = forged[10] == "A" ? "B" : "A"
        let invalid = try await net.ask(as: "CITY01", provider: "TAX01", residents: [], count: 3,
                                        codes: [String(forged), net.code("CITY02", linked[0]), net.code("CITY01", Self.residents[3])])
        #expect(invalid.map(\.code) == [200, 200, 303])
        #expect(invalid.last?.providerCode == "NO_RECORD")
        // Provider offline, refusing (its own code relayed), suspended.
        #expect(try await net.ask(as: "CITY01", provider: "OFFLINE01", residents: linked).first?.code == 301)
        let refusal = try await net.ask(as: "CITY01", provider: "NOPE01", residents: linked).first
        #expect(refusal?.code == 303 && refusal?.providerCode == "CLOSED_FILE")
        #expect(try await net.ask(as: "CITY01", provider: "SLEEPY01", residents: linked).first?.code == 301)
        // The table is reloaded with the configuration: a new row permits what was refused.
        try (MediationNetwork.whitelist + "\nT9,BP-TAX,CITY02,OFFLINE01,income,,\n").write(toFile: net.whitelistPath, atomically: true, encoding: .utf8)
        guard case let .reloadResponse(reload)? = try await net.daemon.admin(.reload(LCReloadRequest())), reload.ok else {
            Issue.record("reload failed"); return
        }
        #expect(try await net.ask(as: "CITY02", provider: "OFFLINE01", residents: linked).first?.code == 301)
        // The portal and the matcher may not mediate.
        for org in ["PORTAL", "MATCHER"] {
            let connection = try await net.daemon.connect(as: org)
            await #expect { _ = try await connection.request(.mediate(.with {
                $0.bpID = "BP-TAX"; $0.providerOrg = "TAX01"; $0.linkCode = net.code("PORTAL", linked[0]); $0.infoType = "income"
            })) } throws: { ($0 as? WireError)?.code == .permissionDenied }
            await connection.close()
        }

        // Logged: every decision about a known resident, once; the forged and foreign codes
        // (no resident known) are not. Outcomes: 3 answered, 1+1 whitelist, 1 invalid link
        // (resident 4 unknown to TAX01), 1 unavailable, 1 refused, 1 unavailable (suspended),
        // 1 unavailable after the reload.
        let log = try await net.accessLog()
        #expect(log.map(\.outcome).sorted() == [1, 1, 1, 2, 2, 3, 4, 4, 4, 5])
        #expect(Set(answered.compactMap(\.mediationId)).isSubset(of: Set(log.map(\.mediationID))))
        // The operator's figures count refusals by reason, including the unlogged ones.
        let status = try await net.daemon.status()
        let outcomes = Dictionary(uniqueKeysWithValues: status.mediationOutcomes.map { ($0.outcome, $0.count) })
        #expect(outcomes[.answered] == 3 && outcomes[.invalidLink] == 3 && outcomes[.refusedByWhitelist] == 2)
        #expect(outcomes[.providerUnavailableOutcome] == 3 && outcomes[.providerRefusedOutcome] == 1)
        // The same through the operator's tool.
        let shown = try await net.daemon.linkctl(["status"]).output
        #expect(shown.contains("mediations: 12 total"), "\(shown)")
        #expect(shown.contains("refused: whitelist=2, invalid link=3, provider unavailable=3, provider refused=1"), "\(shown)")

        // The resident's view, through the portal's own code: only that resident's entries, with names.
        let portal = try await net.daemon.connect(as: "PORTAL")
        guard case let .accessLogPage(page)? = try await portal.request(.accessLogQuery(.with { $0.linkCode = net.code("PORTAL", linked[0]) })) else {
            Issue.record("no page"); return
        }
        // Resident 1: answered, two whitelist refusals, offline, refused, suspended, offline after the reload.
        #expect(page.entries.map(\.outcome.rawValue) == [1, 2, 2, 4, 5, 4, 4])
        #expect(page.entries.allSatisfy { $0.requesterName == "Org \($0.requesterOrg)" && $0.providerName == "Org \($0.providerOrg)" })
        #expect(page.entries.contains { $0.mediationID == answered[0].mediationId && $0.outcome == .answered && $0.providerName == "Org TAX01" })
        #expect(!page.entries.contains { $0.mediationID == answered[1].mediationId })  // resident 2's
        let other = try await portal.request(.accessLogQuery(.with { $0.linkCode = net.code("PORTAL", Self.residents[3]) }))
        if case let .accessLogPage(page4)? = other { #expect(page4.entries.map(\.outcome) == [.invalidLink]) }
        await #expect { _ = try await portal.request(.accessLogQuery(.with { $0.linkCode = net.code("CITY01", linked[0]) })) } throws: {
            ($0 as? WireError)?.code == .invalidLinkCode
        }
        let city = try await net.daemon.connect(as: "CITY01")
        await #expect { _ = try await city.request(.accessLogQuery(.with { $0.linkCode = net.code("CITY01", linked[0]) })) } throws: {
            ($0 as? WireError)?.code == .permissionDenied
        }
        await portal.close()
        await city.close()
    }

    @Test func slowLateDuplicateAndDisconnectingProviders() async throws {
        let net = try await MediationNetwork(requesters: ["CITY01"], providers: ["TAX01", "SLOW01"], maxDeadlineMs: 20_000)
        defer { net.stop() }
        let linked = Array(Self.residents.prefix(2))
        try await net.link(residents: linked, to: ["CITY01", "TAX01", "SLOW01", "PORTAL"])

        // A provider that hangs: A gets PROVIDER_TIMEOUT at its deadline, not later.
        let hanging = try await net.startProvider("SLOW01", options: ["--hang"])
        let timedOut = try await net.ask(as: "CITY01", provider: "SLOW01", residents: linked, deadlineMs: 300)
        // PROVIDER_TIMEOUT (302) says the deadline's timer fired: the provider never answers.
        // Never before the deadline (a lower bound a busy machine cannot break).
        #expect(timedOut.first?.code == 302)
        #expect((timedOut.first?.latencyUs ?? 0) >= 300_000)
        // B disconnecting mid-flight: A hears PROVIDER_UNAVAILABLE promptly, long before its deadline.
        hanging.signal(SIGKILL)
        try await net.waitForPeers("SLOW01", count: 0)
        let leaving = try await net.startProvider("SLOW01", options: ["--disconnect"])
        let dropped = try await net.ask(as: "CITY01", provider: "SLOW01", residents: linked, deadlineMs: 20_000)
        // PROVIDER_UNAVAILABLE (301), not PROVIDER_TIMEOUT: the disconnect answered it, not the 20 s deadline.
        #expect(dropped.first?.code == 301)
        try await net.waitForPeers("SLOW01", count: 0)

        // A late answer (after the deadline) is dropped and counted, never delivered.
        try await net.startProvider("SLOW01", options: ["--delay-ms", "1000"])
        let late = try await net.ask(as: "CITY01", provider: "SLOW01", residents: linked, deadlineMs: 200).first
        #expect(late?.code == 302, "\(String(describing: late))")
        // A second answer is ignored: A gets the first, once.
        try await net.startProvider("TAX01", options: ["--twice"])
        let twice = try await net.ask(as: "CITY01", provider: "TAX01", residents: linked, count: 2)
        #expect(twice.map(\.answer) == linked.map { MediationNetwork.answer(for: $0) })
        let dropCount = try await waitFor("fewer than 3 provider replies dropped") {
            let count = try await net.daemon.status().droppedProviderReplies
            return count >= 3 ? count : nil
        }
        #expect(dropCount == 3)  // one late, two second answers

        // A disconnecting mid-flight: the mediation still gets its entry; B's answer goes nowhere.
        let before = try await net.accessLog().count
        let a = try await net.daemon.connect(as: "CITY01")
        let request = LCMediateRequest.with {
            $0.bpID = "BP-TAX"; $0.providerOrg = "SLOW01"; $0.linkCode = net.code("CITY01", linked[0]); $0.infoType = "income"; $0.deadlineMs = 5_000
        }
        let inFlight = Task { try? await a.request(.mediate(request)) }
        // A disconnects once the core holds the mediation (sent to the slow provider).
        try await eventually(poll: .milliseconds(10), "the mediation never was in flight") { try await net.daemon.status().inFlight >= 1 }
        await a.close()
        _ = await inFlight.value
        let after = try await waitFor("no access log entry for the abandoned mediation") {
            let log = try await net.accessLog()
            return log.count > before ? log : nil
        }
        #expect(after.count == before + 1 && after.last?.outcome == 1)
        #expect(net.daemon.process.isRunning)
        // Timeouts and the unavailable provider are in the log too.
        #expect(after.map(\.outcome).filter { $0 == 6 }.count == 2)
        #expect(after.map(\.outcome).filter { $0 == 4 }.count == 1)
    }

    @Test func aQuietProviderKeepsItsConnectionWithPings() async throws {
        let net = try await MediationNetwork(requesters: ["CITY01"], providers: ["TAX01"], limits: "idle_timeout_ms = 4000\nkeepalive_ms = 1000")
        defer { net.stop() }
        try await net.link(residents: [Self.residents[0]], to: ["CITY01", "TAX01"])
        try await net.startProvider("TAX01")
        // Longer than the idle timeout, measured by the core's own timer: a silent peer that
        // connected after the provider is closed for idleness; the provider, pinging, is not.
        #expect(try await net.daemon.closeReasonOfASilentPeer(as: "CITY01")?.code == .idleTimeout)
        try await net.waitForPeers("TAX01", count: 1)
        #expect(try await net.ask(as: "CITY01", provider: "TAX01", residents: [Self.residents[0]]).first?.outcome == "answered")
    }

    @Test func aThousandConcurrentMediationsFromSeveralRequesters() async throws {
        let requesters = ["CITY01", "CITY02", "CITY03"]
        let net = try await MediationNetwork(requesters: requesters, providers: ["TAX01"])
        defer { net.stop() }
        let residents = (10...29).map { "300000000\($0)" }
        try await net.link(residents: residents, to: requesters + ["TAX01"])
        try await net.startProvider("TAX01")
        let counts = [400, 300, 300]
        let runs = requesters.enumerated().map { index, org in
            Task { try await net.ask(as: org, provider: "TAX01", residents: residents, count: counts[index], concurrency: 100) }
        }
        var all: [(String, MediationNetwork.Outcome)] = []
        for (index, run) in runs.enumerated() { all += try await run.value.map { (requesters[index], $0) } }
        #expect(all.count == 1000)
        // Every answer is the one for the resident A asked about.
        for (org, outcome) in all {
            let resident = residents.first { net.code(org, $0) == outcome.linkCode }
            #expect(resident != nil && outcome.answer == resident.map(MediationNetwork.answer(for:)), "\(org) #\(outcome.i): \(outcome)")
        }
        // Each mediation logged exactly once, under its requester.
        let log = try await net.accessLog()
        #expect(log.count == 1000)
        #expect(Set(log.map(\.mediationID)) == Set(all.compactMap(\.1.mediationId)))
        for (index, org) in requesters.enumerated() {
            #expect(log.filter { $0.requester == org && $0.outcome == 1 }.count == counts[index])
        }
    }
}
