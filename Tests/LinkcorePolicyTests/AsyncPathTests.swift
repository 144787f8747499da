import LinkcorePolicy
import LinkcorePolicyTables
import LinkcoreTestSupport
import LinkcoreWire
import XCTest

/// The async forms of the policy questions, as the daemon's tasks ask them: the task waits, not
/// a thread; failures are typed errors.
final class AsyncPathTests: XCTestCase {
    func q(_ bp: String) -> LCWhitelistQuery {
        whitelistQuery(bp, org("CITY01"), org("HEALTH01"), "X", at: 1)
    }

    func testFailuresAndOverrunsFailClosedWhileOtherCallsSucceed() async throws {
        let scratch = try TempDirectory()
        let host = PolicyHost(logger: testLogger)
        let path = try await buildFaulty(["-DHANG_MS=10000"], in: scratch)
        _ = try host.load(PolicySpec(modules: [.init(kind: .whitelist, path: path)], deadline: .seconds(1), workersPerModule: 2)).value()

        let whitelist: any WhitelistPolicy = host
        let fine = await whitelist.decide(q("FINE"))
        XCTAssertEqual(try fine.value().ruleID, "faulty-ok")
        let error = await whitelist.decide(q("ERROR"))
        XCTAssertEqual(error.failure, .moduleFailed(module: "faulty", status: 3))
        let garbage = await whitelist.decide(q("GARBAGE"))
        XCTAssertEqual(garbage.failure?.code, .policyFailure)
        let hang = await whitelist.decide(q("HANG"))
        XCTAssertEqual(hang.failure, .deadlineExceeded(module: "faulty", deadlineMs: 1000))
        for _ in 0..<10 {
            let again = await whitelist.decide(q("FINE"))
            XCTAssertEqual(try again.value().ruleID, "faulty-ok")
        }
        let counters = try XCTUnwrap(host.current?.whitelist.first?.counters)
        XCTAssertEqual(counters.overruns, 1)
        XCTAssertEqual(counters.stuck, 1)
        XCTAssertEqual(counters.failures, 3)
    }

    func testEveryWorkerStuckIsRefusedAtOnce() async throws {
        let scratch = try TempDirectory()
        let host = PolicyHost(logger: testLogger)
        let path = try await buildFaulty(["-DHANG_MS=10000"], in: scratch)
        _ = try host.load(PolicySpec(modules: [.init(kind: .whitelist, path: path)], deadline: .milliseconds(500), workersPerModule: 1)).value()
        let hang = await host.decide(q("HANG"))
        XCTAssertEqual(hang.failure, .deadlineExceeded(module: "faulty", deadlineMs: 500))
        let next = await host.decide(q("FINE"))
        XCTAssertEqual(next.failure, .saturated(module: "faulty"))
    }

    /// The module answers as its table does in process (the built-in path's engine).
    func testShippedModulesAnswerAsTheirTablesDo() async throws {
        let host = PolicyHost(logger: testLogger)
        _ = try host.load(PolicySpec(modules: try Modules.shipped(), deadline: .seconds(5))).value()
        let query = whitelistQuery("BP-HEALTH-ELIGIBILITY", org("CITY01"), org("HEALTH01"), "HEALTH-INSURANCE-ELIGIBILITY", at: jst("2026-11-25"))
        let table = try WhitelistTable(text: String(contentsOfFile: Modules.etc("whitelist.toml"), encoding: .utf8), file: "whitelist.toml")
        let viaTask = await host.decide(query)
        XCTAssertEqual(try viaTask.value(), table.decide(query))
        XCTAssertTrue(try viaTask.value().permitted)
        var fee = LCFeeQuery()
        fee.operation = .mediation
        fee.payer = org("BANK01", .private, .privateConnector)
        fee.atMs = jst("2026-12-02")
        let charged = await host.decide(fee)
        XCTAssertEqual(try charged.value().amountYen, 8)
        var route = LCEventRoutingQuery()
        route.receiver = org("BANK01", .private, .privateConnector)
        route.kind = .moved
        let routed = await host.decide(route)
        XCTAssertFalse(try routed.value().revealKind)
    }
}
