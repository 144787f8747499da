import Foundation
import LinkcoreClient
import LinkcoreWire
import Testing
import LinkcoreTestSupport

/// Issue 11, item 7: a policy module cold after a restart overran its deadline on the first real
/// decision, the reply said `retryable: false` and the daemon logged nothing. Now every module
/// is warmed before READY, an overrun is retryable, and every failed decision is logged.
@Suite(.serialized) struct PolicyWarmUpTests {
    /// Builds the fault fixture (Tests/LinkcorePolicyTests/Fixtures/faulty.c) as a whitelist module.
    static func buildFaulty(in dir: URL, defines: [String] = []) async throws -> String {
        let root = Products.sourceRoot
        let out = dir.appendingPathComponent("faulty.so").path
        let gcc = ChildProcess(executable: "/usr/bin/gcc", arguments: ["-D_GNU_SOURCE", "-shared", "-fPIC", "-O1", "-Wall", "-Werror"]
            + defines + [
                "-I\(root)/Sources/CLinkcorePolicy/include", "-I\(root)/sdk/c/generated",
                "\(root)/Tests/LinkcorePolicyTests/Fixtures/faulty.c", "\(root)/sdk/c/generated/linkcore/v1/policy.pb-c.c",
                "\(root)/sdk/c/generated/linkcore/v1/common.pb-c.c", "-lprotobuf-c", "-o", out,
            ], environment: ProcessInfo.processInfo.environment, outputPath: dir.appendingPathComponent("gcc.log").path)
        try gcc.run()
        // Polled (ChildProcess.waitForExit): blocking a thread here would starve the cooperative pool (two
        // threads on a two-core machine) and with it every other test's waits.
        guard try await CProgram.waitForExit(gcc, timeout: .seconds(300)) == 0 else {
            throw TestFailure("gcc failed: \((try? String(contentsOfFile: gcc.outputPath, encoding: .utf8)) ?? "")")
        }
        return out
    }

    /// A core whose whitelist module is the fault fixture, configured with a call log (`calls`)
    /// and `settings` lines; CITY01 asks TAX01.
    static func faultyNetwork(in dir: TempDirectory, settings: String = "", deadlineMs: Int) async throws
        -> (net: MediationNetwork, calls: String) {
        let calls = dir.url.appendingPathComponent("calls.log").path
        let config = dir.url.appendingPathComponent("faulty.conf").path
        try "calls-log=\(calls)\n\(settings)".write(toFile: config, atomically: true, encoding: .utf8)
        let module = try await buildFaulty(in: dir.url)
        try ServiceAccount.handOver(dir.url.path)   // the unprivileged daemon's module writes calls.log here
        let net = try await MediationNetwork(requesters: ["CITY01"], providers: ["TAX01"],
                                             policy: policy(module: module, config: config, deadlineMs: deadlineMs))
        return (net, calls)
    }

    static func policy(module: String, config: String, deadlineMs: Int) -> String {
        "decision_deadline_ms = \(deadlineMs)\n\n[[policy.module]]\nkind = \"whitelist\"\npath = \"\(module)\"\nconfig = \"\(config)\""
    }

    /// The module sleeps 5 s in its first call, 5 times the decision deadline. Without the
    /// warm-up, the first mediation after READY is that call and fails with POLICY_FAILURE.
    @Test func everyModuleIsWarmedBeforeReady() async throws {
        let dir = try TempDirectory()
        let (net, calls) = try await Self.faultyNetwork(in: dir, settings: "cold-ms=5000\n", deadlineMs: 1000)
        defer { net.stop() }
        // READY was sent (start() waited for it) and no request was made yet: the module has
        // already had its one warm-up decision, and status says so.
        let before = (try? String(contentsOfFile: calls, encoding: .utf8)) ?? ""
        #expect(before == "LINKCORE-WARMUP\n", "\(before)")
        let status = try await net.daemon.status().policyStatus
        #expect(status.contains("0 overruns, 1 of 1 modules warmed"), "\(status)")

        try await net.link(residents: ["20000000001"], to: ["CITY01", "TAX01"])
        try await net.startProvider("TAX01")
        let first = try await net.ask(as: "CITY01", provider: "TAX01", residents: ["20000000001"], bp: "BP-WARM")
        #expect(first.first?.answer == MediationNetwork.answer(for: "20000000001"), "\(first.first.map { "\($0)" } ?? "-")")
        let after = (try? String(contentsOfFile: calls, encoding: .utf8)) ?? ""
        #expect(after == "LINKCORE-WARMUP\nBP-WARM\n", "\(after)")

        // A reloaded set is warmed before it goes into force, the same way.
        guard case let .reloadResponse(reload)? = try await net.daemon.admin(.reload(LCReloadRequest())) else {
            Issue.record("no reload response"); return
        }
        #expect(reload.ok, "\(reload.error)")
        let reloaded = (try? String(contentsOfFile: calls, encoding: .utf8)) ?? ""
        #expect(reloaded == "LINKCORE-WARMUP\nBP-WARM\nLINKCORE-WARMUP\n", "\(reloaded)")
        let again = try await net.ask(as: "CITY01", provider: "TAX01", residents: ["20000000001"], bp: "BP-WARM")
        #expect(again.first?.answer == MediationNetwork.answer(for: "20000000001"))
    }

    /// An overrun is transient: POLICY_FAILURE with `retryable: true`, and a log line naming the
    /// module. A module that fails outright stays non-retryable, and is logged too.
    @Test func anOverrunIsRetryableAndLogged() async throws {
        let dir = try TempDirectory()
        let config = dir.url.appendingPathComponent("faulty.conf").path
        try "\n".write(toFile: config, atomically: true, encoding: .utf8)
        let module = try await Self.buildFaulty(in: dir.url, defines: ["-DHANG_MS=5000"])
        let net = try await MediationNetwork(requesters: ["CITY01"], providers: ["TAX01"],
                                             policy: Self.policy(module: module, config: config, deadlineMs: 500))
        defer { net.stop() }
        // A live link code of CITY01's: since issue 12 (finding 8) a forged one reaches no module.
        try await net.link(residents: ["20000000001"], to: ["CITY01", "TAX01"])
        let linkCode = net.code("CITY01", "20000000001")
        let a = try await net.daemon.connect(as: "CITY01")
        defer { Task { await a.close() } }
        func mediate(_ bp: String) async -> WireError? {
            do {
                _ = try await a.request(.mediate(.with {
                    $0.bpID = bp; $0.providerOrg = "TAX01"; $0.linkCode = linkCode; $0.infoType = "income"
                }))
                return nil
            } catch {
                return error as? WireError
            }
        }
        let overrun = await mediate("HANG")
        #expect(overrun?.code == .policyFailure)
        #expect(overrun?.retryable == true, "\(overrun.map { "\($0)" } ?? "answered")")
        #expect(overrun?.message.contains("policy module faulty overran its 500 ms deadline") == true)
        let failed = await mediate("ERROR")
        #expect(failed?.code == .policyFailure)
        #expect(failed?.retryable == false)

        try await eventually("not logged:\n\(net.daemon.log)") {
            net.daemon.log.contains("overran its 500 ms deadline") && net.daemon.log.contains("failed (status 3)")
        }
        let lines = net.daemon.log.split(separator: "\n").filter { $0.contains("policy decision failed") }
        #expect(lines.count == 2, "\(lines)")
        #expect(lines.first?.contains("module=faulty") == true && lines.first?.contains("retryable=true") == true, "\(lines)")
    }
}
