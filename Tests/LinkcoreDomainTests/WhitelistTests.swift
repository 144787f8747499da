import LinkcoreDomain
import LinkcoreWire
import Testing

@Suite struct WhitelistTests {
    static let table = """
        # comment
        rule_id,bp_id,requester,provider,info_types,valid_from,valid_to
        R1,BP1,CITY01,TAX01,income|household,2020-01-01,2020-12-31
        R2,BP2,*,TAX01,income,,
        """
    // 2020-06-01 and 2021-01-01 (UTC), in ms.
    static let june2020: Int64 = 1_590_969_600_000
    static let jan2021: Int64 = 1_609_459_200_000

    func query(_ bp: String, _ a: String, _ b: String, _ ia: String, at: Int64 = june2020) -> LCWhitelistQuery {
        .with { $0.bpID = bp; $0.requester.code = a; $0.provider.code = b; $0.infoType = ia; $0.atMs = at }
    }

    @Test func permitsOnlyWhatARowNames() async throws {
        let w = try BuiltinWhitelist.parse(Self.table)
        #expect(try await w.decide(query("BP1", "CITY01", "TAX01", "household")).get().ruleID == "R1")
        #expect(try await w.decide(query("BP1", "CITY01", "TAX01", "pension")).get().permitted == false)
        #expect(try await w.decide(query("BP1", "BANK01", "TAX01", "income")).get().permitted == false)
        #expect(try await w.decide(query("BP1", "TAX01", "CITY01", "income")).get().permitted == false)  // not symmetric
        // valid_to is inclusive of its day and no later.
        #expect(try await w.decide(query("BP1", "CITY01", "TAX01", "income", at: Self.jan2021 - 1)).get().permitted)
        #expect(try await w.decide(query("BP1", "CITY01", "TAX01", "income", at: Self.jan2021)).get().permitted == false)
        // A wildcard requester, unbounded dates.
        #expect(try await w.decide(query("BP2", "ANYONE", "TAX01", "income", at: Self.jan2021)).get().ruleID == "R2")
        #expect(try await BuiltinWhitelist(rules: []).decide(query("BP2", "A", "TAX01", "income")).get().permitted == false)
    }

    @Test func malformedRowsNameTheirLine() {
        for (text, line) in [("R1,BP1,A,B,x,2020-01-01", 1), ("\nR1,BP1,A,B,,,", 2), ("R1,BP1,A,B,x,2020-13-01,", 1), (",BP,A,B,x,,", 1)] {
            #expect { try BuiltinWhitelist.parse(text, source: "w.csv") } throws: { error in
                "\(error)".hasPrefix("w.csv:\(line):")
            }
        }
    }
}
