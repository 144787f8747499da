import LinkcoreAudit
import LinkcorePostgresStore
import LinkcoreStore
import LinkcoreTestSupport
import Testing

/// Issuances in batches (issue 16, item 1): concurrent issuances share commits, a refused one
/// fails alone, the same resident issued twice in one batch gets one ID code.
extension StoreConformanceTests {
    @Test(arguments: TestStoreEngine.allCases)
    func concurrentIssuancesAreBatchedAndARefusedOneFailsAlone(engine: TestStoreEngine) async throws {
        let t = try await TestStore.make(engine)
        let store = t.store
        for code in ["CITY01", "TAX01"] { try await store.addOrganisation(org(code)) }
        let count = 160
        func hash(_ resident: Int) -> [UInt8] { Array(repeating: UInt8(resident), count: 32) }
        enum Outcome: Equatable { case issued(idCode: UInt64, created: Bool), refused, unknownOrg, other(String) }
        let outcomes = await withTaskGroup(of: (Int, Outcome).self) { group in
            for i in 0..<count {
                group.addTask {
                    // 40 residents, each linked to both organisations, several times per number range.
                    let org = i % 10 == 3 ? "NOPE01" : (i % 2 == 0 ? "CITY01" : "TAX01")
                    let expires = i % 10 == 7 ? Self.now : Self.now + 1000
                    let charge = FeeCharge(payer: org, operation: .linkIssuance, reference: "M\(i)", amountYen: 5, tariffID: "T", atMs: Self.now)
                    do {
                        let result = try await store.issueLink(residentHash: hash(i % 40), orgCode: org, matchingNumber: "M\(i)",
                                                               expiresAtMs: expires, nowMs: Self.now,
                                                               newIDCode: { UInt64.random(in: 1...UInt64(Int64.max)) }, charge: charge)
                        return (i, .issued(idCode: result.issuance.link.idCode, created: result.created))
                    } catch StoreError.matchingNumberRefused {
                        return (i, .refused)
                    } catch StoreError.notFound {
                        return (i, .unknownOrg)
                    } catch {
                        return (i, .other("\(error)"))
                    }
                }
            }
            return await group.reduce(into: [Int: Outcome]()) { $0[$1.0] = $1.1 }
        }
        var idCodes: [Int: UInt64] = [:]
        var created = 0
        for i in 0..<count {
            let outcome = try #require(outcomes[i])
            switch i % 10 {
            case 3: #expect(outcome == .unknownOrg, "M\(i)")
            case 7: #expect(outcome == .refused, "M\(i)")
            default:
                guard case let .issued(idCode, wasCreated) = outcome else { Issue.record("M\(i): \(outcome)"); continue }
                // One ID code per resident, whichever write of the batch created it.
                if let known = idCodes[i % 40] { #expect(known == idCode, "M\(i)") } else { idCodes[i % 40] = idCode }
                if wasCreated { created += 1 }
                #expect(try await store.issuance(matchingNumber: "M\(i)")?.link.idCode == idCode)
            }
        }
        // One live link per (resident, organisation), each created (and charged) once.
        let issuedPairs = Set((0..<count).filter { $0 % 10 != 3 && $0 % 10 != 7 }.map { "\($0 % 40)-\($0 % 2)" })
        #expect(created == issuedPairs.count)
        let fees = try await store.feeLines(payer: "CITY01", fromMs: 0, toMs: .max).entries
            + store.feeLines(payer: "TAX01", fromMs: 0, toMs: .max).entries
        #expect(fees == UInt64(issuedPairs.count))
        #expect(try await store.issuance(matchingNumber: "M3") == nil)
        #expect(try await store.issuance(matchingNumber: "M7") == nil)
        if let database = t.database {
            // psql, not the store: what was acknowledged is committed, the refused left nothing.
            #expect(try await database.psql("SELECT count(*) FROM issuances") == "\(count - 2 * count / 10)")
            #expect(try await database.psql("SELECT count(*) FROM links") == "\(issuedPairs.count)")
            let counters = try #require(store as? PostgresCoreStore).counters
            #expect(counters.commits < counters.writes, "concurrent issuances share transactions")
        }
        await t.close()
    }
}

extension StoreConformanceTests {
    /// Mediations under idempotency keys, many at once (so several of one key share a batch):
    /// per key one entry, answered retries counted on it, a reuse with other fields refused
    /// alone, the chain whole.
    @Test(arguments: TestStoreEngine.allCases)
    func concurrentRetriesOfOneKeyAppendOnceAndCountTheirRepeats(engine: TestStoreEngine) async throws {
        let t = try await TestStore.make(engine)
        let store = t.store
        try await store.addOrganisation(org("CITY01"))
        let keys = 40
        enum Outcome: Sendable { case appended(String, UInt64), repeated(String, UInt64), unchanged, reused, other(String) }
        let outcomes = await withTaskGroup(of: (Int, Outcome).self) { group in
            for k in 0..<keys {
                // Two answered tries with the same fields, one with other fields.
                for attempt in 0..<3 {
                    group.addTask {
                        let fingerprint: [UInt8] = attempt == 2 ? [2, UInt8(k)] : [1, UInt8(k)]
                        let key = MediationKey(requester: "CITY01", key: "k\(k)", fingerprint: fingerprint, notBeforeMs: Self.now - 1000)
                        let id = "m\(k)-\(attempt)"
                        let record = AccessRecord(mediationID: id, idCode: 7, atMs: Self.now + Int64(k), requester: "CITY01", provider: "TAX01",
                                                  bpID: "BP1", infoType: "income", outcome: .answered)
                        let fee = FeeCharge(payer: "CITY01", operation: .mediation, reference: id, amountYen: 10, tariffID: "T", atMs: Self.now)
                        do {
                            switch try await store.appendMediation(record, charge: fee, key: key) {
                            case let .appended(entry): return (k, .appended(entry.record.mediationID, entry.position))
                            case let .repeated(mediationID, position): return (k, .repeated(mediationID, position))
                            case .unchanged: return (k, .unchanged)
                            }
                        } catch StoreError.idempotencyKeyReused {
                            return (k, .reused)
                        } catch {
                            return (k, .other("\(error)"))
                        }
                    }
                }
            }
            return await group.reduce(into: [Int: [Outcome]]()) { $0[$1.0, default: []].append($1.1) }
        }
        var positions: [UInt64] = []
        for k in 0..<keys {
            let all = outcomes[k] ?? []
            let appended = all.compactMap { o -> (String, UInt64)? in
                if case let .appended(id, p) = o { return (id, p) }
                return nil
            }
            let repeated = all.compactMap { o -> (String, UInt64)? in
                if case let .repeated(id, p) = o { return (id, p) }
                return nil
            }
            let reused = all.filter { o in
                if case .reused = o { return true }
                return false
            }.count
            guard let entry = appended.first, appended.count == 1 else { Issue.record("k\(k): \(all)"); continue }
            positions.append(entry.1)
            // The first try binds the key; a try with the same fields repeats, one with others is refused.
            #expect(repeated.allSatisfy { $0 == entry }, "k\(k): \(all)")
            #expect(repeated.count + reused == 2, "k\(k): \(all)")
            #expect(entry.0.hasSuffix("-2") ? reused == 2 : (repeated.count == 1 && reused == 1), "k\(k): \(all)")
            let logged = try await store.loggedAccess(idCode: 7, fromMs: Self.now + Int64(k), toMs: Self.now + Int64(k) + 1,
                                                      afterPosition: 0, limit: 10)
            #expect(logged.map(\.chained.position) == [entry.1] && logged.first?.repeats == UInt32(repeated.count), "k\(k)")
        }
        #expect(Set(positions) == Set(1...UInt64(keys)))
        #expect(try await chainIsIntact(store) == UInt64(keys))
        #expect(try await store.feeLines(payer: "CITY01", fromMs: 0, toMs: .max).entries == UInt64(keys))
        for k in 0..<keys {
            let bound = try await store.mediationKey(MediationKey(requester: "CITY01", key: "k\(k)", fingerprint: [], notBeforeMs: Self.now - 1000))
            #expect(bound?.answered == true && bound.map { positions.contains($0.position) } == true)
        }
        await t.close()
    }
}
