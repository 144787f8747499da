import Foundation
import LinkcorePolicy
import LinkcoreTestSupport
import LinkcoreWire
import Logging
import Synchronization
import XCTest

/// Where the built shared objects are: beside the test bundle (`swift build --build-tests` puts
/// `lib*.so` products and `linkcorePackageTests.xctest` in the same directory), unless
/// LINKCORE_POLICY_MODULES names another directory.
enum Modules {
    static let directory: String = {
        if let dir = ProcessInfo.processInfo.environment["LINKCORE_POLICY_MODULES"], !dir.isEmpty { return dir }
        return URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
    }()

    static func path(_ name: String) throws -> String {
        let path = "\(directory)/liblinkcore-policy-\(name).so"
        guard FileManager.default.fileExists(atPath: path) else {
            throw TestFailure("\(path) is missing: build the package first (swift build --build-tests)")
        }
        return path
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static func etc(_ file: String) -> String { "\(repository)/etc/linkcore/\(file)" }

    /// The shipped set with the shipped tables.
    static func shipped() throws -> [PolicySpec.Module] {
        [
            .init(kind: .whitelist, path: try path("whitelist"), config: etc("whitelist.toml")),
            .init(kind: .fees, path: try path("fees"), config: etc("fees.toml")),
            .init(kind: .events, path: try path("events"), config: etc("events.toml")),
        ]
    }
}


/// Runs a command, failing with its output when it exits non-zero.
func runCommand(_ arguments: [String], in directory: String? = nil) async throws {
    // On a thread of its own: a compiler blocking the cooperative pool starves every other test's tasks.
    try await offPool { try runCommandBlocking(arguments, in: directory) }
}

private func runCommandBlocking(_ arguments: [String], in directory: String?) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw TestFailure("\(arguments.joined(separator: " ")) failed:\n\(String(decoding: output, as: UTF8.self))")
    }
}

/// Builds the fault fixture with the system C compiler, with `defines` picking its defect.
func buildFaulty(_ defines: [String] = [], name: String = "faulty", in scratch: TempDirectory) async throws -> String {
    let repo = Modules.repository
    let out = "\(scratch.path)/\(name).so"
    try await runCommand(
        ["gcc", "-D_GNU_SOURCE", "-shared", "-fPIC", "-O1", "-Wall", "-Werror"] + defines + [
            "-I\(repo)/Sources/CLinkcorePolicy/include", "-I\(repo)/sdk/c/generated",
            "\(repo)/Tests/LinkcorePolicyTests/Fixtures/faulty.c", "\(repo)/sdk/c/generated/linkcore/v1/policy.pb-c.c",
            "\(repo)/sdk/c/generated/linkcore/v1/common.pb-c.c", "-lprotobuf-c", "-o", out,
        ])
    return out
}

/// A clock the test moves by hand (what modules see through now_ms).
final class ManualClock: Sendable {
    private let now: Atomic<Int64>
    init(_ ms: Int64) { now = Atomic(ms) }
    func advance(_ ms: Int64) { now.add(ms, ordering: .relaxed) }
    var read: @Sendable () -> Int64 { { [self] in self.now.load(ordering: .relaxed) } }
}

/// Milliseconds at a time of day in Japan: "2026-11-25" + hours, minutes.
func jst(_ day: String, _ hour: Int = 12, _ minute: Int = 0) -> Int64 {
    let parts = day.split(separator: "-").compactMap { Int($0) }
    var c = DateComponents()
    c.year = parts[0]
    c.month = parts[1]
    c.day = parts[2]
    c.hour = hour
    c.minute = minute
    c.timeZone = TimeZone(secondsFromGMT: 9 * 3600)
    let date = Calendar(identifier: .gregorian).date(from: c)!
    return Int64(date.timeIntervalSince1970 * 1000)
}

func org(_ code: String, _ sector: LCSector = .public, _ role: LCRole = .agency) -> LCOrgRef {
    var o = LCOrgRef()
    o.code = code
    o.sector = sector
    o.role = role
    return o
}

func whitelistQuery(_ bp: String, _ requester: LCOrgRef, _ provider: LCOrgRef, _ info: String, at: Int64) -> LCWhitelistQuery {
    var q = LCWhitelistQuery()
    q.bpID = bp
    q.requester = requester
    q.provider = provider
    q.infoType = info
    q.atMs = at
    return q
}

let testLogger: Logger = {
    var logger = Logger(label: "policy-test")
    logger.logLevel = .critical
    return logger
}()

extension Result {
    /// The success value, or a test failure naming the error.
    func value(file: StaticString = #filePath, line: UInt = #line) throws -> Success {
        switch self {
        case .success(let value): return value
        case .failure(let error):
            XCTFail("unexpected failure: \(error)", file: file, line: line)
            throw error
        }
    }

    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// The answer of an async policy call, for the table-driven tests that run on XCTest's main
/// thread (never a thread of the cooperative pool, which the call's task runs on): the host has
/// no synchronous path (issue 13), so the test waits here for its task.
func answer<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let box = Mutex<T?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let value = await body()
        box.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return box.withLock { $0! }
}
