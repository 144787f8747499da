import LinkcoreConfig
import LinkcorePolicy
import LinkcorePolicyTables
import LinkcoreTestSupport
import LinkcoreWire
import XCTest

/// One whitelist engine, one calendar (issue 13, item 5): the built-in CSV table
/// (`[mediation] whitelist`) is read into the module's own `WhitelistTable`, so a row takes
/// effect at 00:00 Japan time whichever path decides, and a day the calendar lacks is refused.
final class WhitelistCalendarTests: XCTestCase {
    static let csv = """
        # comment
        rule_id,bp_id,requester,provider,info_types,valid_from,valid_to
        R1,BP1,CITY01,TAX01,income|household,2020-01-01,2020-12-31
        R2,BP2,*,TAX01,income,,
        """

    let city = org("CITY01"), tax = org("TAX01"), bank = org("BANK01", .private, .privateConnector)

    func testTheCSVTablePermitsOnlyWhatARowNames() throws {
        let table = try WhitelistTable(csv: Self.csv, file: "w.csv")
        let june = jst("2020-06-01")
        XCTAssertEqual(table.decide(whitelistQuery("BP1", city, tax, "household", at: june)).ruleID, "R1")
        XCTAssertFalse(table.decide(whitelistQuery("BP1", city, tax, "pension", at: june)).permitted)
        XCTAssertFalse(table.decide(whitelistQuery("BP1", bank, tax, "income", at: june)).permitted)
        XCTAssertFalse(table.decide(whitelistQuery("BP1", tax, city, "income", at: june)).permitted, "not symmetric")
        // A wildcard requester and no dates: in force at any time.
        XCTAssertEqual(table.decide(whitelistQuery("BP2", bank, tax, "income", at: 0)).ruleID, "R2")
        XCTAssertEqual(table.decide(whitelistQuery("BP2", city, tax, "income", at: jst("2099-12-31", 23, 59))).ruleID, "R2")
        XCTAssertFalse(try WhitelistTable(csv: "", file: "w.csv").decide(whitelistQuery("BP2", city, tax, "income", at: june)).permitted)
    }

    /// valid_from 2021-04-01 starts at 2021-03-31T15:00:00Z (00:00 JST), and valid_to 2021-04-30
    /// ends at 2021-04-30T15:00:00Z: one second either side decides differently, and the module
    /// and the built-in table decide alike at each instant.
    func testARowTakesEffectAtMidnightJapanTimeInBothPaths() async throws {
        let csv = "R9,BP9,CITY01,TAX01,income,2021-04-01,2021-04-30\n"
        let toml = """
            [[rule]]
            id = "R9"
            bp_id = "BP9"
            requester = "CITY01"
            provider = "TAX01"
            info_types = ["income"]
            valid_from = "2021-04-01"
            valid_to = "2021-04-30"
            """
        let builtin = try WhitelistTable(csv: csv, file: "w.csv")
        let scratch = try TempDirectory()
        let host = PolicyHost(logger: testLogger)
        _ = try host.load(PolicySpec(modules: [
            .init(kind: .whitelist, path: try Modules.path("whitelist"), config: try scratch.write("whitelist.toml", toml)),
        ], deadline: .seconds(5))).value()
        let startsAt: Int64 = 1_617_202_800_000  // 2021-03-31T15:00:00Z
        let endsAt: Int64 = 1_619_794_800_000    // 2021-04-30T15:00:00Z
        for (at, permitted) in [(startsAt - 1_000, false), (startsAt, true), (endsAt - 1_000, true), (endsAt, false)] {
            let q = whitelistQuery("BP9", city, tax, "income", at: at)
            XCTAssertEqual(builtin.decide(q).permitted, permitted, "built-in table at \(at)")
            let module = try await host.decide(q).get()
            XCTAssertEqual(module.permitted, permitted, "module at \(at)")
        }
        // The same instants as the UTC calendar would have them are inside the row, not its edges.
        XCTAssertTrue(builtin.decide(whitelistQuery("BP9", city, tax, "income", at: startsAt + 9 * 3_600_000 - 1)).permitted)
        XCTAssertFalse(builtin.decide(whitelistQuery("BP9", city, tax, "income", at: endsAt + 9 * 3_600_000 - 1)).permitted)
    }

    func testADayTheCalendarLacksIsAClearConfigError() {
        for text in ["R1,BP1,A,B,x,2021-02-31,", "R1,BP1,A,B,x,,2023-02-29", "R1,BP1,A,B,x,2021-04-31,"] {
            XCTAssertThrowsError(try WhitelistTable(csv: text, file: "w.csv")) { error in
                let error = error as? ConfigError
                XCTAssertEqual(error?.kind, .invalidValue)
                XCTAssertEqual(error?.line, 1)
                XCTAssertTrue(error?.description.contains("is not a day of the calendar") == true, "\(String(describing: error))")
            }
        }
        // 2024 is a leap year: 02-29 exists.
        XCTAssertNoThrow(try WhitelistTable(csv: "R1,BP1,A,B,x,2024-02-29,", file: "w.csv"))
        // The module's TOML table refuses it the same way.
        let toml = "[[rule]]\nid = \"R1\"\nbp_id = \"B\"\nrequester = \"*\"\nprovider = \"*\"\ninfo_types = [\"x\"]\nvalid_from = \"2021-02-31\"\n"
        XCTAssertThrowsError(try WhitelistTable(text: toml, file: "w.toml")) { error in
            XCTAssertTrue("\(error)".contains("2021-02-31 is not a day of the calendar"), "\(error)")
        }
    }

    func testMalformedRowsNameTheirLine() {
        for (text, line) in [("R1,BP1,A,B,x,2020-01-01", 1), ("\nR1,BP1,A,B,,,", 2), ("R1,BP1,A,B,x,2020-13-01,", 1), (",BP,A,B,x,,", 1),
                             ("R1,BP1,A,B,x,2020-02-01,2020-01-31", 1)] {
            XCTAssertThrowsError(try WhitelistTable(csv: text, file: "w.csv")) { error in
                XCTAssertTrue("\(error)".hasPrefix("w.csv:\(line):"), "\(error)")
            }
        }
    }
}
