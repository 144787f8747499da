import Dispatch
import Foundation
import LinkcorePolicy
import LinkcoreTestSupport
import LinkcoreWire
import Synchronization
import XCTest

/// The host against broken modules (built here with gcc from Fixtures/faulty.c) and broken files.
final class HostTests: XCTestCase {
    let query = whitelistQuery("BP-ANY", org("CITY01"), org("HEALTH01"), "X", at: 1)

    func q(_ bp: String) -> LCWhitelistQuery {
        var q = query
        q.bpID = bp
        return q
    }

    func loadError(_ modules: [PolicySpec.Module]) -> PolicyLoadError? {
        PolicyHost(logger: testLogger).load(PolicySpec(modules: modules)).failure
    }

    // MARK: refusing modules

    func testWrongABIVersionIsRefusedWithAClearMessage() async throws {
        let scratch = try TempDirectory()
        let path = try await buildFaulty(["-DFAULTY_ABI=2"], name: "abi2", in: scratch)
        let error = try XCTUnwrap(loadError([.init(kind: .whitelist, path: path)]))
        XCTAssertEqual(error.kind, .abiMismatch)
        XCTAssertTrue(error.message.contains("module abi2.so is ABI 2, this linkcored speaks ABI 1"), error.message)
    }

    func testBadMagicContractAndKindAreRefused() async throws {
        let scratch = try TempDirectory()
        let magic = try await buildFaulty(["-DFAULTY_MAGIC=0x1234"], name: "magic", in: scratch)
        XCTAssertEqual(loadError([.init(kind: .whitelist, path: magic)])?.kind, .badMagic)
        let contract = try await buildFaulty(["-DFAULTY_CONTRACT=\"linkcore.v2\""], name: "contract", in: scratch)
        XCTAssertEqual(loadError([.init(kind: .whitelist, path: contract)])?.kind, .contractMismatch)
        let fine = try await buildFaulty(name: "fine", in: scratch)
        let wrongKind = try XCTUnwrap(loadError([.init(kind: .fees, path: fine)]))
        XCTAssertEqual(wrongKind.kind, .wrongKind)
        XCTAssertTrue(wrongKind.message.contains("is a whitelist module but is configured as fees"), wrongKind.message)
    }

    func testCorruptAndForeignFilesAreRefused() async throws {
        let scratch = try TempDirectory()
        var junk = [UInt8](repeating: 0, count: 4096)
        for i in junk.indices { junk[i] = UInt8(truncatingIfNeeded: i &* 7919 &+ 13) }
        let corrupt = "\(scratch.path)/corrupt.so"
        _ = FileManager.default.createFile(atPath: corrupt, contents: Data(junk))
        XCTAssertEqual(loadError([.init(kind: .whitelist, path: corrupt)])?.kind, .notLoadable)

        // An ELF header followed by nothing: a truncated module.
        let truncated = "\(scratch.path)/truncated.so"
        let real = try await Data(contentsOf: URL(fileURLWithPath: try buildFaulty(name: "real", in: scratch)))
        _ = FileManager.default.createFile(atPath: truncated, contents: real.prefix(64))
        XCTAssertEqual(loadError([.init(kind: .whitelist, path: truncated)])?.kind, .notLoadable)

        let text = try scratch.write("text.so", "not a shared object\n")
        XCTAssertEqual(loadError([.init(kind: .whitelist, path: text)])?.kind, .notLoadable)

        XCTAssertEqual(loadError([.init(kind: .whitelist, path: "\(scratch.path)/missing.so")])?.kind, .io)

        // A real shared object that is not a policy module.
        try scratch.write("other.c", "int something(void) { return 1; }\n")
        try await runCommand(["gcc", "-shared", "-fPIC", "-o", "\(scratch.path)/other.so", "\(scratch.path)/other.c"])
        XCTAssertEqual(loadError([.init(kind: .whitelist, path: "\(scratch.path)/other.so")])?.kind, .noEntryPoint)
    }

    func testAModuleFileOthersMayWriteIsRefused() async throws {
        let scratch = try TempDirectory()
        let path = try await buildFaulty(in: scratch)
        try FileManager.default.setAttributes([.posixPermissions: 0o666], ofItemAtPath: path)
        let error = try XCTUnwrap(loadError([.init(kind: .whitelist, path: path)]))
        XCTAssertEqual(error.kind, .insecure)
        XCTAssertTrue(error.message.contains("mode 666"), error.message)
    }

    /// Issue 12, finding 14: the module path was stat'ed, then dlopen'ed by name (following
    /// symlinks, racing a swap), its directory was not looked at, and the table file (what is
    /// lawful) was read unchecked. Each of these is now refused with its reason.
    func testASymlinkedModuleIsRefused() async throws {
        let scratch = try TempDirectory()
        let real = try await buildFaulty(in: scratch)
        let link = "\(scratch.path)/link.so"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
        let error = try XCTUnwrap(loadError([.init(kind: .whitelist, path: link)]))
        XCTAssertEqual(error.kind, .insecure)
        XCTAssertTrue(error.message.contains("symbolic link"), error.message)
        XCTAssertNil(loadError([.init(kind: .whitelist, path: real)]))
    }

    func testAModuleInADirectoryGroupOrOthersMayWriteIsRefused() async throws {
        let scratch = try TempDirectory()
        let path = try await buildFaulty(in: scratch)
        for mode in [0o775, 0o757, 0o1777] {
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: scratch.path)
            let error = try XCTUnwrap(loadError([.init(kind: .whitelist, path: path)]), "directory mode \(String(mode, radix: 8))")
            XCTAssertEqual(error.kind, .insecure)
            XCTAssertTrue(error.message.contains("its directory \(scratch.path)") && error.message.contains("group or others may write"), error.message)
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: scratch.path)
        XCTAssertNil(loadError([.init(kind: .whitelist, path: path)]))
    }

    func testATableFileOthersMayWriteOrASymlinkedTableIsRefused() async throws {
        let scratch = try TempDirectory()
        let path = try await buildFaulty(in: scratch)
        let table = try scratch.write("faulty.conf", "# rows\n")
        XCTAssertNil(loadError([.init(kind: .whitelist, path: path, config: table)]))

        try FileManager.default.setAttributes([.posixPermissions: 0o666], ofItemAtPath: table)
        var error = try XCTUnwrap(loadError([.init(kind: .whitelist, path: path, config: table)]))
        XCTAssertEqual(error.kind, .insecure)
        XCTAssertTrue(error.message.contains("configuration \(table)") && error.message.contains("mode 666"), error.message)

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: table)
        let link = "\(scratch.path)/link.conf"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: table)
        error = try XCTUnwrap(loadError([.init(kind: .whitelist, path: path, config: link)]))
        XCTAssertEqual(error.kind, .insecure)
        XCTAssertTrue(error.message.contains("symbolic link"), error.message)
    }

    func testInitFailureAndMissingConfigAreReported() async throws {
        let scratch = try TempDirectory()
        let path = try await buildFaulty(in: scratch)
        let config = try scratch.write("faulty.conf", "fail-init\n")
        let error = try XCTUnwrap(loadError([.init(kind: .whitelist, path: path, config: config)]))
        XCTAssertEqual(error.kind, .initFailed)
        XCTAssertTrue(error.message.contains("told to fail by its configuration"), error.message)
        XCTAssertEqual(loadError([.init(kind: .whitelist, path: path, config: "\(scratch.path)/nope.conf")])?.kind, .io)
    }

    func testShippedModuleRefusesABadTableWithItsLine() async throws {
        let scratch = try TempDirectory()
        let config = try scratch.write(
            "whitelist.toml",
            """
            [[rule]]
            id = "W-1"
            bp_id = "BP"
            requester = "@nowhere"
            provider = "*"
            info_types = ["X"]
            valid_from = "2020-01-01"
            """)
        let error = try XCTUnwrap(loadError([.init(kind: .whitelist, path: try Modules.path("whitelist"), config: config)]))
        XCTAssertEqual(error.kind, .initFailed)
        XCTAssertTrue(error.message.contains("whitelist.toml:4"), error.message)
        XCTAssertTrue(error.message.contains("unknown class \"@nowhere\""), error.message)
    }

    // MARK: failing closed

    func testErrorGarbageAndHangFailClosedWhileOtherCallsSucceed() async throws {
        let scratch = try TempDirectory()
        let host = PolicyHost(logger: testLogger)
        let path = try await buildFaulty(["-DHANG_MS=10000"], in: scratch)
        _ = try host.load(PolicySpec(modules: [.init(kind: .whitelist, path: path)], deadline: .seconds(1), workersPerModule: 2)).value()

        let fine = try await host.decide(q("FINE")).value()
        XCTAssertEqual(fine.ruleID, "faulty-ok")
        let error = await host.decide(q("ERROR")).failure
        XCTAssertEqual(error, .moduleFailed(module: "faulty", status: 3))
        let garbage = await host.decide(q("GARBAGE")).failure
        XCTAssertEqual(garbage, .garbage(module: "faulty", detail: "not a linkcore.v1.WhitelistDecision"))
        let noReason = await host.decide(q("NOREASON")).failure
        XCTAssertEqual(noReason, .garbage(module: "faulty", detail: "a refusal without a reason"))
        let huge = await host.decide(q("HUGE")).failure
        XCTAssertEqual(huge, .garbage(module: "faulty", detail: "decision of 1073741824 bytes"))
        let hang = await host.decide(q("HANG")).failure
        XCTAssertEqual(hang, .deadlineExceeded(module: "faulty", deadlineMs: 1000))
        XCTAssertEqual(hang?.code, .policyFailure)
        XCTAssertEqual(hang?.wireError.code, .policyFailure)

        // One worker is stuck in the hung call (for 10 s); the other keeps answering. The
        // deadline is generous so that a loaded machine does not turn a fine call into an overrun.
        for _ in 0..<20 {
            let again = try await host.decide(q("FINE")).value()
            XCTAssertEqual(again.ruleID, "faulty-ok")
        }
        let counters = try XCTUnwrap(host.current?.whitelist.first?.counters)
        XCTAssertEqual(counters.overruns, 1)
        XCTAssertEqual(counters.stuck, 1)
        XCTAssertEqual(counters.failures, 5)
        XCTAssertTrue(host.statusLine.contains("5 failures, 1 overruns"), host.statusLine)
    }

    func testAModuleWithEveryWorkerStuckIsRefusedAtOnce() async throws {
        let scratch = try TempDirectory()
        let host = PolicyHost(logger: testLogger)
        let path = try await buildFaulty(["-DHANG_MS=10000"], in: scratch)
        _ = try host.load(PolicySpec(modules: [.init(kind: .whitelist, path: path)], deadline: .milliseconds(500), workersPerModule: 1)).value()
        let hang = await host.decide(q("HANG")).failure
        XCTAssertEqual(hang, .deadlineExceeded(module: "faulty", deadlineMs: 500))
        let next = await host.decide(q("FINE")).failure
        XCTAssertEqual(next, .saturated(module: "faulty"))
    }

    func testNothingLoadedFailsClosed() async {
        let host = PolicyHost(logger: testLogger)
        let whitelist = await host.decide(query).failure
        XCTAssertEqual(whitelist, .notConfigured(.whitelist))
        let fees = await host.decide(LCFeeQuery()).failure
        XCTAssertEqual(fees, .notConfigured(.fees))
        XCTAssertEqual(host.statusLine, "no policy loaded")
    }

    // MARK: reload

    func testAFailedReloadKeepsTheWholeOldSet() async throws {
        let scratch = try TempDirectory()
        let host = PolicyHost(logger: testLogger)
        let good = try Modules.shipped()
        // Five seconds, not the 50 ms default: a busy machine can hold a worker thread that long,
        // and this test is about the swap, not the deadline.
        let first = try host.load(PolicySpec(modules: good, deadline: .seconds(5))).value()
        XCTAssertEqual(first.generation, 1)

        let badFees = try scratch.write("fees.toml", "public_free = \"yes\"\n")
        var broken = good
        broken[1].config = badFees
        let error = try XCTUnwrap(host.load(PolicySpec(modules: broken, deadline: .seconds(5))).failure)
        XCTAssertEqual(error.kind, .initFailed)
        XCTAssertTrue(host.current === first, "the old set stays in force")
        XCTAssertEqual(host.lastError, error.description)
        XCTAssertTrue(host.statusLine.contains("last policy load FAILED"), host.statusLine)
        let permit = whitelistQuery("BP-HEALTH-ELIGIBILITY", org("CITY01"), org("HEALTH01"), "HEALTH-INSURANCE-ELIGIBILITY", at: jst("2026-11-25"))
        let decision = try await host.decide(permit).value()
        XCTAssertEqual(decision.ruleID, "W-008")

        XCTAssertEqual(try host.load(PolicySpec(modules: good, deadline: .seconds(5))).value().generation, 2)
        XCTAssertNil(host.lastError)
        XCTAssertEqual(host.load(PolicySpec(modules: good + [good[1]])).failure?.kind, .invalidSet)
    }

    func testReloadUnderContinuousTrafficFailsNoRequest() async throws {
        let host = PolicyHost(logger: testLogger)
        let spec = PolicySpec(modules: try Modules.shipped(), deadline: .seconds(5))
        _ = try host.load(spec).value()
        let permit = whitelistQuery("BP-HEALTH-ELIGIBILITY", org("CITY01"), org("HEALTH01"), "HEALTH-INSURANCE-ELIGIBILITY", at: jst("2026-11-25"))
        final class Tally: Sendable {
            let failures = Atomic<Int>(0)
            let answered = Atomic<Int>(0)
            let done = Atomic<Bool>(false)
        }
        let tally = Tally()
        let traffic = (0..<3).map { _ in
            Task {
                repeat {
                    if case .success(let d) = await host.decide(permit), d.ruleID == "W-008" {
                        tally.answered.add(1, ordering: .relaxed)
                    } else {
                        tally.failures.add(1, ordering: .relaxed)
                    }
                } while !tally.done.load(ordering: .relaxed)
            }
        }
        for _ in 0..<10 { _ = try host.load(spec).value() }
        tally.done.store(true, ordering: .relaxed)
        for task in traffic { await task.value }
        XCTAssertEqual(tally.failures.load(ordering: .relaxed), 0)
        XCTAssertGreaterThan(tally.answered.load(ordering: .relaxed), 0)
        XCTAssertEqual(host.current?.generation, 11)
    }

    func testAReplacedInstanceIsShutDownWhileItsImageStaysLoaded() async throws {
        let scratch = try TempDirectory()
        let path = try await buildFaulty(in: scratch)
        let host = PolicyHost(logger: testLogger)
        let marks = (1...3).map { "\(scratch.path)/shutdown-\($0)" }
        func load(_ n: Int) async throws {
            let config = try scratch.write("faulty-\(n).conf", "shutdown-marker=\(marks[n - 1])\n")
            _ = try host.load(PolicySpec(modules: [.init(kind: .whitelist, path: path, config: config)], deadline: .seconds(5))).value()
            let decision = try await host.decide(q("FINE")).value()
            XCTAssertEqual(decision.ruleID, "faulty-ok")
        }
        try await load(1)
        try await load(2)
        try await load(3)
        // The worker that ran the last call on a replaced set lets go of it just after answering.
        try await eventually(poll: .milliseconds(1), "generation 2 was not shut down") { FileManager.default.fileExists(atPath: marks[1]) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: marks[0]), "generation 1 was shut down")
        XCTAssertTrue(FileManager.default.fileExists(atPath: marks[1]), "generation 2 was shut down")
        XCTAssertFalse(FileManager.default.fileExists(atPath: marks[2]), "the set in force is not")
        XCTAssertEqual(host.loadedImages, 1, "one image, reused by every generation and never unloaded")
    }

    func testAModuleFileReplacedInPlaceIsLoadedAnew() async throws {
        let scratch = try TempDirectory()
        let installed = "\(scratch.path)/module.so"
        try await FileManager.default.copyItem(atPath: try buildFaulty(in: scratch), toPath: installed)
        let host = PolicyHost(logger: testLogger)
        XCTAssertEqual(try host.load(PolicySpec(modules: [.init(kind: .whitelist, path: installed)])).value().whitelist[0].name, "faulty")

        try await runCommand(["make", "-s", "-C", "\(Modules.repository)/examples/policy/ratelimit", "CC=gcc", "OUT=\(scratch.path)"])
        try FileManager.default.removeItem(atPath: installed)
        try FileManager.default.copyItem(atPath: "\(scratch.path)/linkcore-policy-ratelimit.so", toPath: installed)
        let second = try host.load(PolicySpec(modules: [.init(kind: .whitelist, path: installed)])).value()
        XCTAssertEqual(second.whitelist[0].name, "ratelimit", "the new file's code, not the old image")
        XCTAssertEqual(host.loadedImages, 2)
    }
}
