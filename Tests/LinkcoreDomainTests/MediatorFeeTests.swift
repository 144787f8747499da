import Foundation
import LinkcoreDomain
import LinkcoreLinkCodes
import LinkcoreStore
import LinkcoreWire
import Synchronization
import Testing

/// The mediator charges the fee schedule's price for an answered mediation, in the access-log
/// entry's transaction, and fails closed (B never asked) when the schedule cannot decide.
@Suite struct MediatorFeeTests {
    final class Tariff: FeeSchedule {
        let reply: Result<LCFeeDecision?, WireError>
        let asked = Mutex<[LCFeeQuery]>([])
        init(_ reply: Result<LCFeeDecision?, WireError>) { self.reply = reply }
        func fee(_ query: LCFeeQuery) async -> Result<LCFeeDecision?, WireError> {
            asked.withLock { $0.append(query) }
            return reply
        }
    }

    func mediator(_ w: MediatorTests.World, _ tariff: Tariff) -> Mediator {
        Mediator(store: w.store, links: w.links, whitelist: try! BuiltinWhitelist.parse("R1,BP1,CITY01,TAX01,income,,"),
                 providers: w.providers, fees: tariff, now: { MediatorTests.now })
    }

    @Test func anAnswerIsChargedOnceARefusalIsNot() async throws {
        let base = MediatorTests()
        defer { try? FileManager.default.removeItem(atPath: base.path) }
        let w = try await base.makeWorld()
        let tariff = Tariff(.success(.with { $0.chargeable = true; $0.amountYen = 12; $0.tariffID = "F-TEST" }))
        let m = mediator(w, tariff)
        let la = w.code("CITY01", "10000000001")
        #expect((try? await m.mediate(base.request(la), requester: "CITY01").reply.get()) != nil)
        #expect(tariff.asked.withLock { $0.first?.payer.code == "CITY01" && $0.first?.operation == .mediation && $0.first?.bpID == "BP1" })
        w.providers.reply.withLock { $0 = .refused(providerCode: "NO_RECORD", message: "none") }
        _ = await m.mediate(base.request(la), requester: "CITY01")
        let (lines, entries) = try await w.store.feeLines(payer: "CITY01", fromMs: 0, toMs: Int64.max)
        #expect(entries == 1, "the refused mediation is not charged")
        #expect(lines.first?.amountYen == 12 && lines.first?.tariffID == "F-TEST" && lines.first?.count == 1)
    }

    @Test func aNewLinkIsChargedOnceARepeatedIssuanceIsNot() async throws {
        let base = MediatorTests()
        defer { try? FileManager.default.removeItem(atPath: base.path) }
        let w = try await base.makeWorld()
        let secret = (0..<32).map { UInt8($0) }
        let tariff = Tariff(.success(.with { $0.chargeable = true; $0.amountYen = 30; $0.tariffID = "F-LINK" }))
        let links = LinkService(store: w.store, keyring: try LinkCodeKeyring(masterSecret: secret),
                                hasher: try ResidentHasher(masterSecret: secret), orgs: w.links.orgs, fees: tariff, now: { MediatorTests.now })
        func issue(_ number: String) async throws -> Bool {
            try await links.issue(.with {
                $0.residentCode = "10000000009"; $0.orgCode = "TAX01"; $0.matchingNumber = number; $0.expiresAtMs = MediatorTests.now + 60_000
            }).get().response.created
        }
        #expect(try await issue("N1"))
        #expect(try await issue("N2") == false, "the same resident again: no new link")
        let (lines, entries) = try await w.store.feeLines(payer: "TAX01", fromMs: 0, toMs: Int64.max)
        #expect(entries == 1 && lines.first?.operation == .linkIssuance && lines.first?.amountYen == 30)
        let broken = LinkService(store: w.store, keyring: try LinkCodeKeyring(masterSecret: secret),
                                 hasher: try ResidentHasher(masterSecret: secret), orgs: w.links.orgs,
                                 fees: Tariff(.failure(WireError(.internal, "crashed"))), now: { MediatorTests.now })
        let refused = await broken.issue(.with {
            $0.residentCode = "10000000008"; $0.orgCode = "TAX01"; $0.matchingNumber = "N3"; $0.expiresAtMs = MediatorTests.now + 60_000
        })
        #expect(refused.failure?.code == .policyFailure)
    }

    @Test func aTariffThatCannotDecideFailsClosed() async throws {
        let base = MediatorTests()
        defer { try? FileManager.default.removeItem(atPath: base.path) }
        let w = try await base.makeWorld()
        let m = mediator(w, Tariff(.failure(WireError(.internal, "module crashed"))))
        let result = await m.mediate(base.request(w.code("CITY01", "10000000001")), requester: "CITY01")
        #expect(result.reply.failure?.code == .policyFailure && result.outcome == .policyFailed && result.logged)
        #expect(w.providers.asked.withLock { $0.isEmpty }, "B is never asked when the fee cannot be decided")
    }
}
