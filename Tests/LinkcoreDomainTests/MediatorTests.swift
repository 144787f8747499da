import Foundation
import LinkcoreAudit
import LinkcoreDomain
import LinkcoreLinkCodes
import LinkcoreStore
import LinkcoreTestSupport
import Synchronization
import Testing

/// The mediator's decisions over a real store of each engine (SQLite, PostgreSQL) and keyring. Provider B is a scripted
/// gateway here (the real push path is covered by the integration tests with real processes).
@Suite struct MediatorTests {
    final class ScriptedProviders: ProviderGateway {
        let reply = Mutex<ProviderReply>(.answered(Array("42".utf8)))
        let asked = Mutex<[(String, ProvideRequest, Int64)]>([])
        func ask(_ providerOrg: String, _ request: ProvideRequest, timeoutMs: Int64) async -> ProviderReply {
            asked.withLock { $0.append((providerOrg, request, timeoutMs)) }
            return reply.withLock { $0 }
        }
    }

    struct World {
        let store: any CoreStore & EventStore & NoticeStore
        let links: LinkService
        let mediator: Mediator
        let providers: ScriptedProviders
        let codes: [String: String]  // "ORG/resident" -> link code
        func code(_ org: String, _ resident: String) -> String { codes["\(org)/\(resident)"] ?? "" }
    }

    static let now: Int64 = 1_800_000_000_000
    let path = NSTemporaryDirectory() + "mediator-\(UUID().uuidString).sqlite"

    func makeWorld(_ engine: TestStoreEngine, now: @escaping @Sendable () -> Int64 = { MediatorTests.now }) async throws -> World {
        let store = try await TestStore.make(engine).store
        let orgs = try await OrgDirectory(store: store)
        for (code, role) in [("CITY01", OrgRole.agency), ("TAX01", .agency), ("SLEEPY01", .agency), ("PORTAL", .portal), ("MATCHER", .matcher)] {
            _ = await orgs.add(NewOrganisation(code: code, name: "Name of \(code)", sector: .publicBody, role: role), nowMs: 0)
        }
        let secret = (0..<32).map { UInt8($0) }
        let links = LinkService(store: store, keyring: try LinkCodeKeyring(masterSecret: secret),
                                hasher: try ResidentHasher(masterSecret: secret), orgs: orgs, now: { Self.now })
        var codes: [String: String] = [:]
        var n = 0
        // Resident 1 is linked everywhere; resident 2 only to CITY01 and the portal.
        for (resident, linked) in [("10000000001", ["CITY01", "TAX01", "SLEEPY01", "PORTAL"]), ("10000000002", ["CITY01", "PORTAL"])] {
            for org in linked {
                n += 1
                let issued = try await links.issue(IssueLinkRequest(
                    residentCode: resident, orgCode: org, matchingNumber: "M\(n)", expiresAtMs: Self.now + 60_000
                )).get().issued
                codes["\(org)/\(resident)"] = issued.linkCode
            }
        }
        _ = await orgs.setSuspended("SLEEPY01", true)
        let whitelist = TestWhitelist("R1,BP1,CITY01,TAX01,income,,\nR2,BP1,CITY01,SLEEPY01,income,,\nR3,BP1,*,PORTAL,income,,")
        let providers = ScriptedProviders()
        let mediator = Mediator(store: store, links: links, whitelist: whitelist, providers: providers,
                                settings: .init(defaultDeadlineMs: 500, maxDeadlineMs: 2_000, maxPayloadBytes: 16), now: now)
        return World(store: store, links: links, mediator: mediator, providers: providers, codes: codes)
    }

    func request(_ la: String, provider: String = "TAX01", bp: String = "BP1", info: String = "income", deadline: UInt32 = 0) -> MediationRequest {
        MediationRequest(bpID: bp, providerOrg: provider, infoType: info, linkCode: la, query: Data("q".utf8), deadlineMs: deadline)
    }

    func log(_ w: World) async throws -> [AccessRecord] {
        try await w.store.accessChain(afterPosition: 0, limit: 1000).map(\.record)
    }

    /// Issue 17, item 5: the wall clock steps back an hour while a mediation is under way (after
    /// the core dated it). B must still be asked with at most the mediation's deadline: measured
    /// on the wall clock, the deadline grew by the hour the clock went back, and a provider that
    /// never answers held A for an hour.
    @Test func aWallClockStepBackDoesNotStretchTheDeadline() async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        final class Calls: Sendable { let count = Atomic<Int>(0) }
        let calls = Calls()
        let w = try await makeWorld(.sqlite, now: {
            calls.count.add(1, ordering: .relaxed).oldValue == 0 ? Self.now : Self.now - 3_600_000
        })
        let m = await w.mediator.mediate(request(w.code("CITY01", "10000000001"), deadline: 2_000), requester: "CITY01")
        #expect(m.outcome == .answered)
        let timeouts = w.providers.asked.withLock { $0.map(\.2) }
        #expect(timeouts.count == 1 && timeouts.allSatisfy { $0 >= 1 && $0 <= 2_000 }, "\(timeouts)")
    }

    @Test(arguments: TestStoreEngine.allCases) func anAllowedRequestIsConvertedAskedRelayedAndLoggedOnce(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try await makeWorld(engine)
        let m = await w.mediator.mediate(request(w.code("CITY01", "10000000001"), deadline: 100_000), requester: "CITY01")
        let response = try m.reply.get()
        #expect(response.answer == Data("42".utf8) && response.mediationID == m.id)
        #expect(m.outcome == .answered && m.logged && m.ruleID == "R1")
        // B was asked under its own code LB, never under LA, with the capped deadline.
        let asked = w.providers.asked.withLock { $0 }
        #expect(asked.count == 1)
        #expect(asked.first?.1.linkCode == w.code("TAX01", "10000000001"))
        #expect(asked.first?.1.requesterOrg == "CITY01" && asked.first?.1.mediationID == m.id)
        #expect(asked.first?.1.deadlineAtMs == Self.now + 2_000)
        let entries = try await log(w)
        #expect(entries.count == 1)
        #expect(entries.first?.mediationID == m.id && entries.first?.requester == "CITY01" && entries.first?.provider == "TAX01")
        #expect(entries.first?.outcome == .answered)
        // Deadline 0 means the default.
        _ = await w.mediator.mediate(request(w.code("CITY01", "10000000001")), requester: "CITY01")
        #expect(w.providers.asked.withLock { $0.last?.1.deadlineAtMs } == Self.now + 500)
    }

    @Test(arguments: TestStoreEngine.allCases) func eachProviderOutcomeIsRelayedAndLogged(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try await makeWorld(engine)
        let la = w.code("CITY01", "10000000001")
        let cases: [(ProviderReply, Refusal.Code, AccessOutcome)] = [
            (.refused(providerCode: "NO_RECORD", message: "none"), .providerRefused, .providerRefused),
            (.unavailable, .providerUnavailable, .providerUnavailable),
            (.timedOut, .providerTimeout, .timedOut),
        ]
        for (reply, code, outcome) in cases {
            w.providers.reply.withLock { $0 = reply }
            let m = await w.mediator.mediate(request(la), requester: "CITY01")
            #expect(m.reply.failure?.code == code)
            #expect(m.outcome == outcome && m.logged)
        }
        w.providers.reply.withLock { $0 = .refused(providerCode: "NO_RECORD", message: "B's own wording") }
        // B's "no record" is relayed in the core's one wording (the same as for a B not linked).
        #expect(await w.mediator.mediate(request(la), requester: "CITY01").reply.failure == Mediator.noRecord)
        // An answer above the core's limit is not relayed: a typed refusal (issue 12, finding 10).
        w.providers.reply.withLock { $0 = .answered([UInt8](repeating: 1, count: w.mediator.settings.maxAnswerBytes + 1)) }
        let big = await w.mediator.mediate(request(la), requester: "CITY01")
        #expect(big.reply.failure?.code == .providerRefused && big.reply.failure?.providerCode == Mediator.answerTooLarge)
        #expect(try await log(w).map(\.outcome) == [.providerRefused, .providerUnavailable, .timedOut, .providerRefused, .providerRefused])
    }

    @Test(arguments: TestStoreEngine.allCases) func refusalsBeforeTheProvider(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try await makeWorld(engine)
        let la = w.code("CITY01", "10000000001")
        // Not on the whitelist, with a valid LA: refused and logged under the resident.
        let refused = await w.mediator.mediate(request(la, info: "pension"), requester: "CITY01")
        #expect(refused.reply.failure == Mediator.notPermitted && refused.outcome == .refusedByWhitelist && refused.logged)
        // Not on the whitelist with a forged LA: LA is checked first, before any policy module
        // sees the request (issue 12, finding 8); no resident to log under.
        var forged = Array(la)
        forged[12] = forged[12] == "A" ? "B" : "A"
        let forgedRefusal = await w.mediator.mediate(request(String(forged), info: "pension"), requester: "CITY01")
        #expect(forgedRefusal.reply.failure == LinkService.invalidLinkCode && !forgedRefusal.logged)
        // Permitted, but LA forged, foreign (TAX01's code), or unknown: one reply, nothing logged.
        let invalid = [String(forged), w.code("TAX01", "10000000001"), "not-a-code"].map { code in
            Task { await w.mediator.mediate(request(code), requester: "CITY01") }
        }
        for task in invalid {
            let m = await task.value
            #expect(m.reply.failure == LinkService.invalidLinkCode && m.outcome == .invalidLink && !m.logged)
        }
        // B not linked to the resident: B's own "no record" (issue 12, finding 7a), logged under the resident.
        let unlinked = await w.mediator.mediate(request(w.code("CITY01", "10000000002")), requester: "CITY01")
        #expect(unlinked.reply.failure == Mediator.noRecord && unlinked.outcome == .invalidLink && unlinked.logged)
        // A suspended provider is unavailable; an unregistered or non-provider org is not permitted.
        #expect(await w.mediator.mediate(request(la, provider: "SLEEPY01"), requester: "CITY01").reply.failure?.code == .providerUnavailable)
        #expect(await w.mediator.mediate(request(la, provider: "NOBODY"), requester: "CITY01").reply.failure?.code == .notPermitted)
        #expect(await w.mediator.mediate(request(la, provider: "PORTAL"), requester: "CITY01").reply.failure?.code == .notPermitted)
        // The portal and the matcher cannot mediate; bad arguments are refused before any decision.
        let portal = await w.mediator.mediate(request(w.code("PORTAL", "10000000001")), requester: "PORTAL")
        #expect(portal.reply.failure?.code == .permissionDenied && portal.outcome == nil)
        var big = request(la)
        big.query = Data(count: 17)
        #expect(await w.mediator.mediate(big, requester: "CITY01").reply.failure?.code == .invalidArgument)
        #expect(await w.mediator.mediate(request(la, bp: ""), requester: "CITY01").reply.failure?.code == .invalidArgument)
        // Identifier shapes (IdentifierShape): checked before anything else.
        for (bp, info, provider) in [("BP 1", "income", "TAX01"), ("BP1\n", "income", "TAX01"), ("BP1", "in/come", "TAX01"),
                                     ("BP1", "income", "tax01"), (String(repeating: "B", count: 65), "income", "TAX01")] {
            let m = await w.mediator.mediate(request(la, provider: provider, bp: bp, info: info), requester: "CITY01")
            #expect(m.reply.failure?.code == .invalidArgument && m.outcome == nil, "\(bp.debugDescription) \(info) \(provider)")
        }
        #expect(w.providers.asked.withLock { $0.isEmpty })
        #expect(try await log(w).map(\.outcome) == [.refusedByWhitelist, .invalidLink, .providerUnavailable, .refusedByWhitelist, .refusedByWhitelist])
    }

    /// Issue 12, finding 11: any provider_org, bp_id or info_type (newlines included) went into
    /// the resident's access log, even for a provider that does not exist. Now identifiers have a
    /// documented shape (refused with INVALID_ARGUMENT before any decision, nothing logged) and
    /// only registered providers are named in the log.
    @Test(arguments: TestStoreEngine.allCases) func peerSuppliedIdentifiersAreCheckedAndOnlyRegisteredProvidersAreLogged(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try await makeWorld(engine)
        let la = w.code("CITY01", "10000000001")
        let forged = [
            request(la, provider: "TAX01\n2026-12-07 CITY01 read by POLICE"), request(la, provider: "tax01"),
            request(la, bp: "BP1\nforged line"), request(la, bp: String(repeating: "B", count: 65)),
            request(la, info: "income\u{0}"), request(la, info: "ｉｎｃｏｍｅ"), request(la, info: "income type"),
        ]
        for bad in forged {
            let m = await w.mediator.mediate(bad, requester: "CITY01")
            #expect(m.reply.failure?.code == .invalidArgument && m.outcome == nil, "\(bad)")
        }
        #expect(try await log(w).isEmpty)

        // A well-formed name that is no registered organisation: the same NOT_PERMITTED as
        // before, logged for the resident, but the made-up name is not written.
        let unknown = await w.mediator.mediate(request(la, provider: "POLICE01"), requester: "CITY01")
        #expect(unknown.reply.failure?.code == .notPermitted)
        let entries = try await log(w)
        #expect(entries.map(\.provider) == [Mediator.unregisteredProvider])
        #expect(entries.map(\.outcome) == [.refusedByWhitelist])
    }

    struct BrokenWhitelist: Whitelist {
        func decide(_ query: WhitelistQuery) async -> Result<WhitelistDecision, Refusal> {
            .failure(Refusal(.policyFailure, "module crashed"))
        }
    }

    @Test(arguments: TestStoreEngine.allCases) func aWhitelistThatCannotDecideFailsClosedAndIsLogged(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try await makeWorld(engine)
        let broken = Mediator(store: w.store, links: w.links, whitelist: BrokenWhitelist(), providers: w.providers, now: { Self.now })
        let m = await broken.mediate(request(w.code("CITY01", "10000000001")), requester: "CITY01")
        #expect(m.reply.failure?.code == .policyFailure && m.outcome == .policyFailed && m.logged)
        #expect(w.providers.asked.withLock { $0.isEmpty })
        #expect(try await log(w).map(\.outcome) == [.policyFailed])
    }

    /// Prices each operation at a fixed amount, or fails when told to.
    struct FixedTariff: Tariff {
        var failing = false
        func price(_ operation: FeeCharge.Operation, payer: Organisation, bpID: String, atMs: Int64) async -> Result<Price?, Refusal> {
            failing ? .failure(Refusal(.policyFailure, "fees module crashed")) : .success(Price(amountYen: 7, tariffID: "T7"))
        }
    }

    @Test(arguments: TestStoreEngine.allCases) func onlyAnsweredMediationsAreChargedAndABrokenTariffFailsClosed(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try await makeWorld(engine)
        let whitelist = TestWhitelist("R1,BP1,CITY01,TAX01,income,,")
        let priced = Mediator(store: w.store, links: w.links, whitelist: whitelist, providers: w.providers,
                              tariff: FixedTariff(), now: { Self.now })
        let answered = await priced.mediate(request(w.code("CITY01", "10000000001")), requester: "CITY01")
        w.providers.reply.withLock { $0 = .refused(providerCode: "NO", message: "no") }
        _ = await priced.mediate(request(w.code("CITY01", "10000000001")), requester: "CITY01")
        _ = await priced.mediate(request(w.code("CITY01", "10000000001"), info: "pension"), requester: "CITY01")
        let (lines, entries) = try await w.store.feeLines(payer: "CITY01", fromMs: 0, toMs: .max)
        #expect(entries == 1 && lines.first?.amountYen == 7 && lines.first?.operation == .mediation)
        #expect((try? answered.reply.get()) != nil)

        let askedBefore = w.providers.asked.withLock { $0.count }
        let broken = Mediator(store: w.store, links: w.links, whitelist: whitelist, providers: w.providers,
                              tariff: FixedTariff(failing: true), now: { Self.now })
        let m = await broken.mediate(request(w.code("CITY01", "10000000001")), requester: "CITY01")
        #expect(m.reply.failure?.code == .policyFailure && m.outcome == .policyFailed && m.logged)
        #expect(w.providers.asked.withLock { $0.count } == askedBefore)  // B was never asked
    }

    @Test(arguments: TestStoreEngine.allCases) func thePortalSeesOnlyItsResidentsEntriesPageByPage(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try await makeWorld(engine)
        for _ in 0..<5 { _ = await w.mediator.mediate(request(w.code("CITY01", "10000000001")), requester: "CITY01") }
        _ = await w.mediator.mediate(request(w.code("CITY01", "10000000002")), requester: "CITY01")
        let service = AccessLogService(store: w.store, links: w.links, now: { Self.now })
        var query = AccessLogQuery(linkCode: w.code("PORTAL", "10000000001"), pageSize: 2)
        var seen: [AccessLogEntry] = []
        repeat {
            let page = try await service.page(query, portal: "PORTAL").get()
            seen += page.entries
            query.pageToken = page.nextPageToken
        } while !query.pageToken.isEmpty
        #expect(seen.count == 5)
        #expect(seen.allSatisfy { $0.requesterName == "Name of CITY01" && $0.providerName == "Name of TAX01" && $0.outcome == .answered })
        query.pageToken = ""
        query.linkCode = w.code("PORTAL", "10000000002")
        #expect(try await service.page(query, portal: "PORTAL").get().entries.map(\.outcome) == [.invalidLink])
        // A period that holds nothing.
        query.fromMs = Self.now + 1
        query.toMs = Self.now + 2
        #expect(try await service.page(query, portal: "PORTAL").get().entries.isEmpty)
        // Another organisation's code, or a non-portal caller.
        query.linkCode = w.code("CITY01", "10000000002")
        #expect(await service.page(query, portal: "PORTAL").failure == LinkService.invalidLinkCode)
        #expect(await service.page(query, portal: "CITY01").failure?.code == .permissionDenied)
    }
}

