import Foundation
import Testing

/// Issue 17, item 3: the crash loop's smoke in the test command. `scripts/crash-loop.sh` starts
/// a network of the binaries built beside this test (linkcored with the shipped whitelist and
/// fees modules, the matcher, three adapters), puts mixed load on it, and in each cycle kill -9s
/// one process at a random moment, restarts it and checks from outside (SQLite read-only,
/// `linkctl audit verify`) that no acknowledged mediation, link, change event or fee was lost or
/// duplicated. Three cycles with a fixed seed (7: it kills the core, an adapter, then the matcher);
/// the long run (100 cycles) is docs/reliability.md's.
/// READY times are printed by the script, never asserted here.
@Suite(.serialized) struct CrashLoopTests {
    @Test func threeKillCyclesLoseAndDuplicateNoAcknowledgedOperation() async throws {
        let temp = try TempDirectory()
        let work = temp.url.appendingPathComponent("network").path
        // The script's own environment: the built products instead of a build of its own.
        var environment = ProcessInfo.processInfo.environment
        environment["BIN_DIR"] = Products.directory.path
        for key in ["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "WATCHDOG_USEC", "CREDENTIALS_DIRECTORY"] {
            environment.removeValue(forKey: key)
        }
        let (status, output) = try await runToExit(
            "/usr/bin/env", ["bash", Products.sourceRoot + "/scripts/crash-loop.sh", "3", "--seed", "7", "--dir", work],
            environment: environment, outputDirectory: temp.url, timeout: .seconds(1200))
        #expect(status == 0, "crash loop failed (exit \(status)):\n\(output)")
        let cycles = output.split(separator: "\n").filter { $0.hasPrefix("cycle ") }
        #expect(cycles.count == 3, "\(output)")
        #expect(cycles.allSatisfy { $0.hasSuffix("violations 0") }, "\(output)")
        #expect(output.contains("PASSED: no acknowledged operation lost or duplicated"), "\(output)")
        // The journal holds what was acknowledged: the load did reach every kind of operation.
        let journal = try String(contentsOfFile: work + "/journal.jsonl", encoding: .utf8)
        for op in ["\"op\": \"mediation\"", "\"op\": \"link\"", "\"op\": \"change\"", "\"op\": \"event_ack\""] {
            #expect(journal.contains(op), "no \(op) acknowledged in three cycles")
        }
        #expect(journal.contains("\"fee\": true"), "no metered (BANK01) mediation acknowledged")
    }
}
