import Foundation
import LinkcoreDomain
import LinkcoreLinkCodes
import LinkcoreStore
import LinkcoreTestSupport
import Testing

/// The link service over a real store of each engine (SQLite, PostgreSQL): idempotency, replayed and expired matching
/// numbers, key rotation, unlink.
@Suite struct LinkServiceTests {
    let path = NSTemporaryDirectory() + "core-\(UUID().uuidString).sqlite"
    let secret = (0..<32).map { UInt8($0) }

    func makeService(_ engine: TestStoreEngine, now: @escaping @Sendable () -> Int64 = { 1_800_000_000_000 }) async throws -> LinkService {
        let store = try await TestStore.make(engine).store
        let orgs = try await OrgDirectory(store: store)
        for code in ["CITY01", "TAX01"] {
            _ = await orgs.add(NewOrganisation(code: code, name: code, sector: .publicBody, role: .agency), nowMs: 0)
        }
        _ = await orgs.add(NewOrganisation(code: "BANK01", name: "Bank", sector: .privateSector, role: .privateConnector), nowMs: 0)
        return LinkService(store: store, keyring: try LinkCodeKeyring(masterSecret: secret), hasher: try ResidentHasher(masterSecret: secret),
                           orgs: orgs, now: now)
    }

    func request(_ resident: String, _ org: String, _ number: String, expires: Int64 = 1_900_000_000_000) -> IssueLinkRequest {
        IssueLinkRequest(residentCode: resident, orgCode: org, matchingNumber: number, expiresAtMs: expires)
    }

    @Test(arguments: TestStoreEngine.allCases) func issuanceIsIdempotentAndMatchingNumbersAreSingleUse(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let links = try await makeService(engine)
        let first = try await links.issue(request("10000000001", "CITY01", "M1")).get()
        #expect(first.created)
        // The same matching number again (a retry): the same link, not created twice.
        let retry = try await links.issue(request("10000000001", "CITY01", "M1")).get()
        #expect(!retry.created && retry.issued.linkCode == first.issued.linkCode)
        // A new matching number for the same resident and org: still the same link.
        let again = try await links.issue(request("10000000001", "CITY01", "M2")).get()
        #expect(!again.created && again.issued.linkCode == first.issued.linkCode)
        // The matching number replayed for another resident or another organisation is refused.
        #expect(await links.issue(request("10000000009", "CITY01", "M1")).failure?.code == .invalidMatchingNumber)
        #expect(await links.issue(request("10000000001", "TAX01", "M1")).failure?.code == .invalidMatchingNumber)
        // Expired on arrival.
        #expect(await links.issue(request("10000000001", "TAX01", "M3", expires: 1)).failure?.code == .invalidMatchingNumber)
        // Another organisation's code for the same resident differs and only opens for it.
        let tax = try await links.issue(request("10000000001", "TAX01", "M4")).get()
        #expect(tax.issued.linkCode != first.issued.linkCode)
        #expect(try await links.open(tax.issued.linkCode, orgCode: "CITY01") == nil)
        #expect(try await links.open(tax.issued.linkCode, orgCode: "TAX01") != nil)
    }

    @Test(arguments: TestStoreEngine.allCases) func rotationKeepsOldCodesConvertingAndUnlinkStopsThem(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let links = try await makeService(engine)
        let old = try await links.issue(request("10000000001", "BANK01", "R1")).get().issued
        #expect(old.keyIndex == 1)
        #expect(try await links.orgs.rotateKey("BANK01").get() == 2)
        let new = try await links.issue(request("10000000002", "BANK01", "R2")).get().issued
        #expect(new.keyIndex == 2)
        #expect(try await links.open(old.linkCode, orgCode: "BANK01") != nil)
        #expect(try await links.open(new.linkCode, orgCode: "BANK01") != nil)
        // Unlink ends the old link; its code no longer converts, and a forged code gets the same reply.
        #expect((try? await links.unlink(code: old.linkCode, orgCode: "BANK01").get()) != nil)
        #expect(try await links.open(old.linkCode, orgCode: "BANK01") == nil)
        let again = await links.unlink(code: old.linkCode, orgCode: "BANK01").failure
        let forged = await links.unlink(code: String(new.linkCode.reversed()), orgCode: "BANK01").failure
        #expect(again == LinkService.invalidLinkCode && forged == LinkService.invalidLinkCode)
    }

    @Test(arguments: TestStoreEngine.allCases) func refusesUnknownOrganisationsAndBadResidentCodes(engine: TestStoreEngine) async throws {
        defer { try? FileManager.default.removeItem(atPath: path) }
        let links = try await makeService(engine)
        #expect(await links.issue(request("10000000001", "NOPE01", "X1")).failure?.code == .orgUnknown)
        #expect(await links.issue(request("12345", "CITY01", "X2")).failure?.code == .invalidArgument)
        _ = await links.orgs.setSuspended("CITY01", true)
        #expect(await links.issue(request("10000000001", "CITY01", "X3")).failure?.code == .orgSuspended)
        #expect(links.orgs.admit("CITY01").failure?.code == .orgSuspended)
    }
}

extension Result {
    var failure: Failure? { if case let .failure(f) = self { return f }; return nil }
}
