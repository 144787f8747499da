import LinkcoreAudit
import LinkcoreStore
import LinkcoreTestSupport
import Testing

/// Sign-in links and link holders (issue 15, items 3 and 6) on both engines (issue 16, item 2).
extension StoreConformanceTests {
    @Test(arguments: TestStoreEngine.allCases)
    func serviceLinksAreFoundOrCreatedWithTheirLogEntryAndChargedOnce(engine: TestStoreEngine) async throws {
        let t = try await TestStore.make(engine)
        let store = t.store
        for code in ["CITY01", "TAX01"] { try await store.addOrganisation(org(code)) }
        try await store.addOrganisation(org("PORTAL", role: .portal))
        let resident: [UInt8] = Array(repeating: 3, count: 32)
        let portal = try await store.issueLink(residentHash: resident, orgCode: "PORTAL", matchingNumber: "P1", expiresAtMs: Self.now + 1000,
                                               nowMs: Self.now, newIDCode: { 42 }, charge: nil)
        #expect(portal.issuance.link.idCode == 42)
        func signIn(_ n: Int, org: String = "CITY01") -> AccessRecord {
            AccessRecord(mediationID: "sg-\(n)", idCode: 42, atMs: Self.now + Int64(n), requester: org, provider: "PORTAL",
                         bpID: "SIGNIN", infoType: "link_code", outcome: .answered)
        }
        func fee(_ n: Int) -> FeeCharge {
            FeeCharge(payer: "CITY01", operation: .linkIssuance, reference: "sg-\(n)", amountYen: 5, tariffID: "T", atMs: Self.now)
        }
        // The first sign-in creates CITY01's link under its current key index, with its entry and fee.
        let first = try await store.serviceLink(idCode: 42, orgCode: "CITY01", nowMs: Self.now + 1, access: signIn(1), charge: fee(1))
        #expect(first.created && first.link == Link(idCode: 42, orgCode: "CITY01", keyIndex: 1, linkedAtMs: Self.now + 1))
        // The second finds it: an entry (the resident sees every sign-in), no new link, no fee.
        let second = try await store.serviceLink(idCode: 42, orgCode: "CITY01", nowMs: Self.now + 2, access: signIn(2), charge: fee(2))
        #expect(!second.created && second.link == first.link)
        #expect(try await store.feeLines(payer: "CITY01", fromMs: 0, toMs: .max).entries == 1)
        #expect(try await chainIsIntact(store) == 2)
        #expect(try await store.accessEntries(idCode: 42, fromMs: 0, toMs: .max, afterPosition: 0, limit: 10).map(\.record.mediationID)
                == ["sg-1", "sg-2"])
        // The portal's log page: newest first, and the chain hashes it shows with each entry.
        #expect(try await store.loggedAccessNewestFirst(idCode: 42, fromMs: 0, toMs: .max, beforePosition: 0, limit: 10)
                .map(\.chained.record.mediationID) == ["sg-2", "sg-1"])
        #expect(try await store.loggedAccessNewestFirst(idCode: 42, fromMs: 0, toMs: .max, beforePosition: 2, limit: 10)
                .map(\.chained.record.mediationID) == ["sg-1"])
        let chain = try await store.accessChain(afterPosition: 0, limit: 10)
        #expect(try await store.accessHashes(positions: [0, 1, 2, 3]) == [1: chain[0].hash, 2: chain[1].hash])
        await #expect(throws: StoreError.notFound("organisation NOPE01")) {
            try await store.serviceLink(idCode: 42, orgCode: "NOPE01", nowMs: Self.now, access: signIn(3, org: "NOPE01"), charge: nil)
        }
        #expect(try await chainIsIntact(store) == 2, "a refused sign-in leaves no entry")

        // The link holders the portal lists are the resident's live links.
        _ = try await store.issueLink(residentHash: resident, orgCode: "TAX01", matchingNumber: "T1", expiresAtMs: Self.now + 1000,
                                      nowMs: Self.now + 3, newIDCode: { 43 }, charge: nil)
        #expect(try await store.liveLinks(idCode: 42).map(\.orgCode).sorted() == ["CITY01", "PORTAL", "TAX01"])
        #expect(try await store.liveLink(idCode: 42, orgCode: "TAX01")?.linkedAtMs == Self.now + 3)

        // Unlinked and the key rotated: the next sign-in makes a new link under the new index.
        _ = try await store.unlink(idCode: 42, orgCode: "CITY01", nowMs: Self.now + 4)
        #expect(try await store.liveLinks(idCode: 42).map(\.orgCode).sorted() == ["PORTAL", "TAX01"])
        #expect(try await store.rotateKey("CITY01") == 2)
        let again = try await store.serviceLink(idCode: 42, orgCode: "CITY01", nowMs: Self.now + 5, access: signIn(5), charge: fee(5))
        #expect(again.created && again.link.keyIndex == 2)
        #expect(try await store.feeLines(payer: "CITY01", fromMs: 0, toMs: .max).entries == 2)
        await t.close()
    }
}
