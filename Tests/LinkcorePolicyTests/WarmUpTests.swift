import Foundation
import LinkcorePolicy
import LinkcoreTestSupport
import LinkcoreWire
import XCTest

/// Issue 11, item 7 at the host: a load warms every module before the set is in force, and an
/// overrun (transient) is retryable on the wire while a failing module is not.
final class WarmUpTests: XCTestCase {
    func q(_ bp: String) -> LCWhitelistQuery { whitelistQuery(bp, org("CITY01"), org("HEALTH01"), "X", at: 1) }

    func testLoadWarmsEveryModuleBeforeTheSetIsInForce() async throws {
        let scratch = try TempDirectory()
        let calls = "\(scratch.path)/calls.log"
        // The first call sleeps 3 s against a 1 s deadline: only the warm-up may pay for it.
        let config = try scratch.write("faulty.conf", "calls-log=\(calls)\ncold-ms=3000\n")
        let path = try await buildFaulty(in: scratch)
        let host = PolicyHost(logger: testLogger)
        _ = try host.load(PolicySpec(modules: [
            .init(kind: .whitelist, path: path, config: config),
            .init(kind: .fees, path: try Modules.path("fees"), config: Modules.etc("fees.toml")),
            .init(kind: .events, path: try Modules.path("events"), config: Modules.etc("events.toml")),
        ], deadline: .seconds(1))).value()
        XCTAssertEqual(try String(contentsOfFile: calls, encoding: .utf8), "LINKCORE-WARMUP\n")
        XCTAssertEqual(host.current?.modules.filter(\.isWarm).count, 3)
        XCTAssertTrue(host.statusLine.contains("0 overruns, 3 of 3 modules warmed"), host.statusLine)
        // The first real decision is not the module's first call: it is answered in time.
        let first = try await host.decide(q("FIRST")).value()
        XCTAssertEqual(first.ruleID, "faulty-ok")
        XCTAssertEqual(host.current?.whitelist.first?.counters.calls, 1)  // warm-ups are not counted as calls
    }

    func testAnOverrunIsRetryableAndAFailureIsNot() async throws {
        let scratch = try TempDirectory()
        let path = try await buildFaulty(["-DHANG_MS=5000"], in: scratch)
        let host = PolicyHost(logger: testLogger)
        _ = try host.load(PolicySpec(modules: [.init(kind: .whitelist, path: path)], deadline: .milliseconds(500))).value()
        let hung = await host.decide(q("HANG"))
        let overrun = try XCTUnwrap(hung.failure)
        XCTAssertTrue(overrun.isTransient)
        XCTAssertEqual(overrun.wireError.code, .policyFailure)
        XCTAssertTrue(overrun.wireError.retryable)
        XCTAssertEqual(overrun.wireError.message, "policy module faulty overran its 500 ms deadline")
        XCTAssertEqual(overrun.module, "faulty")
        let error = await host.decide(q("ERROR"))
        let failed = try XCTUnwrap(error.failure)
        XCTAssertFalse(failed.wireError.retryable)
        XCTAssertFalse(PolicyError.garbage(module: "m", detail: "d").wireError.retryable)
        XCTAssertFalse(PolicyError.saturated(module: "m").wireError.retryable)
    }
}
