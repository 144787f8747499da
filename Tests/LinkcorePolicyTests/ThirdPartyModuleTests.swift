import LinkcorePolicy
import LinkcoreTestSupport
import LinkcoreWire
import XCTest

/// The example third-party module (examples/policy/ratelimit), built with the system C compiler
/// through its Makefile, composed after the shipped whitelist table.
final class ThirdPartyModuleTests: XCTestCase {
    func testRateLimitComposesWithTheStatutoryTable() async throws {
        let scratch = try TempDirectory()
        try await runCommand(["make", "-s", "-C", "\(Modules.repository)/examples/policy/ratelimit", "CC=gcc", "OUT=\(scratch.path)"])
        let config = try scratch.write("ratelimit.conf", "# test\nwindow_ms = 60000\nlimit = 3\nlimit.CITY02 = 1\n")
        let clock = ManualClock(jst("2026-11-25"))
        let host = PolicyHost(logger: testLogger, clock: clock.read)
        let set = try host.load(
            PolicySpec(modules: [
                .init(kind: .whitelist, path: try Modules.path("whitelist"), config: Modules.etc("whitelist.toml")),
                .init(kind: .whitelist, path: "\(scratch.path)/linkcore-policy-ratelimit.so", config: config),
            ], deadline: .seconds(5))   // the decisions are tested, not the 50 ms default a busy machine can overrun
        ).value()
        XCTAssertEqual(set.whitelist.map(\.name), ["whitelist", "ratelimit"])
        XCTAssertEqual(set.whitelist[1].version, "0.1.0")

        let at = jst("2026-11-25")
        let lawful = whitelistQuery("BP-HEALTH-ELIGIBILITY", org("CITY01"), org("HEALTH01"), "HEALTH-INSURANCE-ELIGIBILITY", at: at)
        for _ in 0..<3 {
            let permit = try await host.decide(lawful).value()
            XCTAssertEqual(permit.ruleID, "W-008", "the table's row is named")
        }
        let limited = try await host.decide(lawful).value()
        XCTAssertFalse(limited.permitted)
        XCTAssertEqual(limited.reason, "ratelimit: rate limit: CITY01 reached 3 requests in 60000 ms")

        // The table refuses first: an unlawful request does not use up the allowance.
        let unlawful = whitelistQuery("BP-HEALTH-ELIGIBILITY", org("CITY02"), org("HEALTH01"), "LOCAL-TAX-INCOME", at: at)
        let refused = try await host.decide(unlawful).value()
        XCTAssertTrue(refused.reason.hasPrefix("no rule"))
        var other = lawful
        other.requester = org("CITY02")
        let otherFirst = try await host.decide(other).value()
        XCTAssertTrue(otherFirst.permitted, "CITY02's own limit of 1")
        let otherSecond = try await host.decide(other).value()
        XCTAssertFalse(otherSecond.permitted)

        clock.advance(60_000)
        let renewed = try await host.decide(lawful).value()
        XCTAssertTrue(renewed.permitted, "a new window")
    }

    func testRateLimitRefusesABadConfiguration() async throws {
        let scratch = try TempDirectory()
        try await runCommand(["make", "-s", "-C", "\(Modules.repository)/examples/policy/ratelimit", "CC=gcc", "OUT=\(scratch.path)"])
        let config = try scratch.write("ratelimit.conf", "limits = 3\n")
        let error = PolicyHost(logger: testLogger).load(
            PolicySpec(modules: [.init(kind: .whitelist, path: "\(scratch.path)/linkcore-policy-ratelimit.so", config: config)])
        ).failure
        XCTAssertEqual(error?.kind, .initFailed)
        XCTAssertTrue(error?.message.contains("line 1: unknown key \"limits\"") ?? false, "\(String(describing: error))")
    }
}
