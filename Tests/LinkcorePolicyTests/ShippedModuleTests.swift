import LinkcorePolicy
import LinkcorePolicyTables
import LinkcoreWire
import XCTest

/// The three shipped modules, loaded from their built shared objects through the ABI, deciding
/// against the shipped tables in etc/linkcore/.
final class ShippedModuleTests: XCTestCase {
    var host: PolicyHost!

    override func setUpWithError() throws {
        host = PolicyHost(logger: testLogger)
        _ = try host.load(PolicySpec(modules: try Modules.shipped(), deadline: .seconds(5))).value()
    }

    let city = org("CITY01")
    let pension = org("PENSION01")
    let health = org("HEALTH01")
    let bank = org("BANK01", .private, .privateConnector)
    let now = jst("2026-11-25")

    func allow(_ q: LCWhitelistQuery) throws -> LCWhitelistDecision {
        let host = self.host!
        return try answer { await host.decide(q) }.value()
    }

    // MARK: whitelist

    func testShippedTableHasAtLeastTwentyRows() throws {
        let text = try String(contentsOfFile: Modules.etc("whitelist.toml"), encoding: .utf8)
        let table = try WhitelistTable(text: text, file: "whitelist.toml")
        XCTAssertGreaterThanOrEqual(table.rules.count, 20)
    }

    func testPermitNamesTheRow() throws {
        let d = try allow(whitelistQuery("BP-HEALTH-ELIGIBILITY", city, health, "HEALTH-INSURANCE-ELIGIBILITY", at: now))
        XCTAssertTrue(d.permitted)
        XCTAssertEqual(d.ruleID, "W-008")
        let p = try allow(whitelistQuery("BP-PENSION-CONTRIBUTION-EXEMPTION", pension, city, "LOCAL-TAX-INCOME", at: now))
        XCTAssertEqual(p.ruleID, "W-005")
    }

    func testClassesCoverOtherOrganisations() throws {
        let d = try allow(whitelistQuery("BP-CHILD-ALLOWANCE", org("CITY77"), city, "HOUSEHOLD-COMPOSITION", at: now))
        XCTAssertEqual(d.ruleID, "W-001")
        let bankAsProvider = try allow(whitelistQuery("BP-HOUSING-LOAN-CREDIT", org("TAX03"), bank, "LOAN-BALANCE", at: now))
        XCTAssertEqual(bankAsProvider.ruleID, "W-026")
    }

    func testDenyByDefaultWithAReason() throws {
        let wrongRequester = try allow(whitelistQuery("BP-CHILD-ALLOWANCE", bank, city, "LOCAL-TAX-INCOME", at: now))
        XCTAssertFalse(wrongRequester.permitted)
        XCTAssertEqual(wrongRequester.ruleID, "")
        XCTAssertEqual(wrongRequester.reason, "no rule of BP-CHILD-ALLOWANCE lets BANK01 ask CITY01 for LOCAL-TAX-INCOME")

        let wrongInfo = try allow(whitelistQuery("BP-HEALTH-ELIGIBILITY", city, health, "LOCAL-TAX-INCOME", at: now))
        XCTAssertFalse(wrongInfo.permitted)

        let reversed = try allow(whitelistQuery("BP-HEALTH-ELIGIBILITY", health, city, "HEALTH-INSURANCE-ELIGIBILITY", at: now))
        XCTAssertFalse(reversed.permitted)

        let unknown = try allow(whitelistQuery("BP-NOPE", city, health, "HEALTH-INSURANCE-ELIGIBILITY", at: now))
        XCTAssertEqual(unknown.reason, "unknown BP-ID BP-NOPE")
    }

    func testValidityDates() throws {
        let q = { (at: Int64) in whitelistQuery("BP-TEMPORARY-BENEFIT-2021", org("CITY02"), self.city, "LOCAL-TAX-INCOME", at: at) }
        XCTAssertFalse(try allow(q(jst("2021-11-30", 23, 59))).permitted)
        XCTAssertEqual(try allow(q(jst("2021-12-01", 0, 0))).ruleID, "W-025")
        XCTAssertTrue(try allow(q(jst("2023-03-31", 23, 59))).permitted, "valid_to is the last day, inclusive")
        let expired = try allow(q(jst("2023-04-01", 0, 0)))
        XCTAssertFalse(expired.permitted)
        XCTAssertEqual(expired.reason, "rule W-025 expired after 2023-03-31")

        let future = whitelistQuery("BP-REVERSE-MORTGAGE", bank, pension, "PENSION-BENEFIT", at: now)
        XCTAssertEqual(try allow(future).reason, "rule W-027 is not in force before 2027-04-01")
        var inForce = future
        inForce.atMs = jst("2027-04-01", 0, 0)
        XCTAssertEqual(try allow(inForce).ruleID, "W-027")
    }

    func testIncompleteQueryFailsClosed() throws {
        let host = self.host!, query = whitelistQuery("", city, health, "X", at: now)
        let error = answer { await host.decide(query) }.failure
        XCTAssertEqual(error, .moduleFailed(module: "whitelist", status: 1))
        XCTAssertEqual(error?.code, .policyFailure)
    }

    // MARK: fees

    func fee(_ op: LCOperation, _ payer: LCOrgRef, _ at: Int64) throws -> LCFeeDecision {
        var q = LCFeeQuery()
        q.operation = op
        q.payer = payer
        q.atMs = at
        q.bpID = "BP-X"
        let host = self.host!, query = q
        return try answer { await host.decide(query) }.value()
    }

    func testPublicBodiesAreFree() throws {
        let d = try fee(.mediation, city, now)
        XCTAssertFalse(d.chargeable)
        XCTAssertEqual(d.amountYen, 0)
        XCTAssertEqual(d.tariffID, "public-free")
    }

    func testTariffBySectorAndDate() throws {
        let other = org("INS05", .private, .privateConnector)
        XCTAssertEqual(try fee(.mediation, other, jst("2025-06-01")).amountYen, 12)
        XCTAssertEqual(try fee(.mediation, other, jst("2026-03-31", 23, 59)).tariffID, "F-2025-MED-PRIVATE")
        let april = try fee(.mediation, other, jst("2026-04-01", 0, 0))
        XCTAssertEqual(april.tariffID, "F-2026-MED-PRIVATE")
        XCTAssertEqual(april.amountYen, 10)
        XCTAssertTrue(april.chargeable)
        XCTAssertEqual(try fee(.linkIssuance, other, now).amountYen, 30)
        XCTAssertEqual(try fee(.eventDelivery, other, now).amountYen, 2)

        XCTAssertEqual(try fee(.mediation, bank, jst("2026-11-30")).amountYen, 10)
        let contract = try fee(.mediation, bank, jst("2026-12-01", 0, 0))
        XCTAssertEqual(contract.tariffID, "F-2026-MED-BANK01")
        XCTAssertEqual(contract.amountYen, 8)
        XCTAssertEqual(try fee(.eventDelivery, bank, jst("2026-09-30")).amountYen, 2)
        XCTAssertEqual(try fee(.eventDelivery, bank, jst("2026-10-01", 0, 0)).amountYen, 1)

        let beforeAnyTariff = try fee(.mediation, other, jst("2024-01-01"))
        XCTAssertEqual(beforeAnyTariff.tariffID, "no-tariff")
        XCTAssertFalse(beforeAnyTariff.chargeable)
    }

    // MARK: events

    func route(_ receiver: LCOrgRef, _ kind: LCChangeKind) throws -> LCEventRoutingDecision {
        var q = LCEventRoutingQuery()
        q.receiver = receiver
        q.kind = kind
        q.atMs = now
        let host = self.host!, query = q
        return try answer { await host.decide(query) }.value()
    }

    func testEventRouting() throws {
        let cityMoved = try route(city, .moved)
        XCTAssertEqual(cityMoved.delivery, .immediate)
        XCTAssertTrue(cityMoved.revealKind)

        XCTAssertEqual(try route(pension, .died).delivery, .immediate)
        XCTAssertEqual(try route(pension, .renamed).delivery, .none, "the pension office is not subscribed to renames")
        XCTAssertFalse(try route(pension, .renamed).revealKind)

        let health = try route(self.health, .other)
        XCTAssertEqual(health.delivery, .dailyBatch)
        XCTAssertTrue(health.revealKind)
    }

    func testPrivateReceiversGetChangedWithoutTheKindUnlessThePolicySaysSo() throws {
        let moved = try route(bank, .moved)
        XCTAssertEqual(moved.delivery, .dailyBatch)
        XCTAssertFalse(moved.revealKind)

        let died = try route(bank, .died)
        XCTAssertEqual(died.delivery, .immediate, "BANK01's own route beats the @bank class")
        XCTAssertTrue(died.revealKind)

        let shop = try route(org("SHOP01", .private, .privateConnector), .other)
        XCTAssertEqual(shop.delivery, .dailyBatch)
        XCTAssertFalse(shop.revealKind)

        XCTAssertEqual(try route(org("BANK02", .private, .privateConnector), .other).delivery, .dailyBatch)
    }
}
