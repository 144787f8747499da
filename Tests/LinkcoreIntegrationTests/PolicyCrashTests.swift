import Foundation
import LinkcoreClient
import LinkcoreWire
import Testing

/// Issue 12, finding 8: a policy module that crashes on one `bp_id` killed linkcored with a single
/// MediateRequest, because `bp_id` and `info_type` reached the module before any link-code check.
/// The fixture module (Tests/LinkcorePolicyTests/Fixtures/faulty.c) dies of SIGSEGV on any BP-ID
/// starting "CRASH". A request with a forged link code, or a malformed bp_id or info_type, must
/// never reach it: the daemon stays up and answers with a typed error.
@Suite(.serialized) struct PolicyCrashTests {
    @Test func aForgedLinkCodeOrAMalformedIdentifierNeverReachesAModule() async throws {
        let dir = try TempDirectory()
        let (net, calls) = try await PolicyWarmUpTests.faultyNetwork(in: dir, deadlineMs: 2000)
        defer { net.stop() }
        try await net.link(residents: ["20000000001"], to: ["CITY01", "TAX01"])
        let live = net.code("CITY01", "20000000001")
        let a = try await net.daemon.connect(as: "CITY01")
        defer { Task { await a.close() } }
        func mediate(bp: String, info: String = "income", code: String) async -> WireError? {
            do {
                _ = try await a.request(.mediate(.with {
                    $0.bpID = bp; $0.providerOrg = "TAX01"; $0.linkCode = code; $0.infoType = info
                }))
                return nil
            } catch {
                return error as? WireError ?? WireError(.internal, "\(error)")
            }
        }
        // A forged code (A's live code with its last character changed) and a made-up one.
        let forged = String(live.dropLast()) + (live.last == "A" ? "B" : "A")
        #expect(await mediate(bp: "CRASH", code: forged)?.code == .invalidLinkCode)
        #expect(await mediate(bp: "CRASH", code: "NOT-A-LINK-CODE")?.code == .invalidLinkCode)
        // Malformed identifiers, even with a live code: refused before the module.
        for bp in ["CRASH\nforged log line", "CRASH <script>", "CRASH/../../etc", String(repeating: "CRASH", count: 13), "-CRASH"] {
            let refused = await mediate(bp: bp, code: live)
            #expect(refused?.code == .invalidArgument, "\(bp.debugDescription): \(refused.map { "\($0)" } ?? "answered")")
            #expect(refused?.message.contains("bp_id") == true)
        }
        let badInfo = await mediate(bp: "CRASH", info: "income\u{0}", code: live)
        #expect(badInfo?.code == .invalidArgument && badInfo?.message.contains("info_type") == true)

        // The daemon is up and answers; the module saw the warm-up only, never a CRASH request.
        #expect(net.daemon.process.isRunning, "linkcored died:\n\(net.daemon.log)")
        let status = try await net.daemon.status()
        #expect(status.policyStatus.contains("1 of 1 modules warmed"), "\(status.policyStatus)")
        let seen = (try? String(contentsOfFile: calls, encoding: .utf8)) ?? ""
        #expect(seen == "LINKCORE-WARMUP\n", "\(seen)")
    }
}
