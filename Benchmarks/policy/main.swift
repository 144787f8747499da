// Whitelist decisions per second through the policy-module ABI, against the same table evaluated
// by an in-process Swift function in the same run (the very WhitelistTable the shipped module
// wraps, so the ratio is the cost of the ABI and not of a different implementation).
//
//   swift build -c release && .build/release/policy-bench [seconds-per-phase] [rounds]
//
// The shared objects are found beside this executable (swift build puts lib*.so products there),
// or in $LINKCORE_POLICY_MODULES. Phases, one caller thread each:
//   in-process      WhitelistTable.decide(query) — no serialization, no ABI
//   ABI, inline     encode query, call the module's decide on this thread, decode the decision
//   ABI, host async await PolicyHost.decide from a task: the hand-off plus a continuation and the
//                   deadline watch (what the daemon's request path pays)
//   host async ×16  the same from 16 tasks at once, as 16 requesters ask (the workers stay busy)
// Besides the rate, each phase prints the process's CPU time and voluntary context switches
// (thread wake-ups) per decision: counts that move much less with the machine's load than the
// rate does, so a before/after comparison on a busy machine still means something.
import Foundation
import LinkcorePolicy
import LinkcorePolicyTables
import LinkcoreWire
import Logging

#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments.dropFirst().compactMap(Double.init)
let secondsPerPhase = arguments.first ?? 1.0
let rounds = Int(arguments.dropFirst().first ?? 3)
let clock = ContinuousClock()

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("policy-bench: \(message)\n".utf8))
    exit(1)
}

let directory =
    ProcessInfo.processInfo.environment["LINKCORE_POLICY_MODULES"]
    ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
let modulePath = "\(directory)/liblinkcore-policy-whitelist.so"
guard FileManager.default.fileExists(atPath: modulePath) else {
    fail("\(modulePath) is missing: run `swift build -c release` (all products) first")
}
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
let tablePath = "\(repository)/etc/linkcore/whitelist.toml"
guard let tableText = try? String(contentsOfFile: tablePath, encoding: .utf8) else { fail("cannot read \(tablePath)") }

// The baseline: the same table, in process.
let table: WhitelistTable
do { table = try WhitelistTable(text: tableText, file: tablePath) } catch { fail("\(error)") }

// The module, through the host.
var logger = Logger(label: "policy-bench")
logger.logLevel = .warning
let host = PolicyHost(logger: logger)
let set: PolicySet
switch host.load(PolicySpec(modules: [.init(kind: .whitelist, path: modulePath, config: tablePath)], deadline: .seconds(1))) {
case .success(let s): set = s
case .failure(let error): fail("\(error)")
}
guard let module = set.whitelist.first else { fail("no whitelist module in the set") }

func org(_ code: String, _ sector: LCSector = .public) -> LCOrgRef {
    var o = LCOrgRef()
    o.code = code
    o.sector = sector
    o.role = sector == .public ? .agency : .privateConnector
    return o
}

// A mix of permits (early and late rows, classes) and refusals (no row, unknown BP-ID, dates).
let now = Int64(Date().timeIntervalSince1970 * 1000)
let queries: [LCWhitelistQuery] = [
    ("BP-HEALTH-ELIGIBILITY", org("CITY01"), org("HEALTH01"), "HEALTH-INSURANCE-ELIGIBILITY"),
    ("BP-PENSION-CONTRIBUTION-EXEMPTION", org("PENSION01"), org("CITY01"), "LOCAL-TAX-INCOME"),
    ("BP-PUBLIC-ASSISTANCE", org("CITY02"), org("HELLOWORK01"), "EMPLOYMENT-INSURANCE-BENEFIT"),
    ("BP-CHILD-ALLOWANCE", org("BANK01", .private), org("CITY01"), "LOCAL-TAX-INCOME"),
    ("BP-HOUSING-LOAN-CREDIT", org("TAX01"), org("BANK01", .private), "LOAN-BALANCE"),
    ("BP-NOPE", org("CITY01"), org("HEALTH01"), "X"),
    ("BP-TEMPORARY-BENEFIT-2021", org("CITY03"), org("CITY01"), "LOCAL-TAX-INCOME"),
    ("BP-REVERSE-MORTGAGE", org("BANK01", .private), org("PENSION01"), "PENSION-BENEFIT"),
].map { bp, requester, provider, info in
    var q = LCWhitelistQuery()
    q.bpID = bp
    q.requester = requester
    q.provider = provider
    q.infoType = info
    q.atMs = now
    return q
}
let expected = queries.map { table.decide($0) }

// Every phase must agree with the baseline before it is timed.
for (q, want) in zip(queries, expected) {
    guard case .success(let got) = await host.decide(q), got == want else { fail("the module disagrees with the table on \(q.bpID)") }
}

func inProcess(_ i: Int) -> Bool { table.decide(queries[i % queries.count]).permitted }

func abiInline(_ i: Int) -> Bool {
    guard let bytes: [UInt8] = try? queries[i % queries.count].serializedBytes(),
        case .success(let answer) = module.callWithoutDeadline(bytes),
        let decision = try? LCWhitelistDecision(serializedBytes: answer)
    else { fail("inline call failed") }
    return decision.permitted
}

func abiHostAsync(_ i: Int) async -> Bool {
    guard case .success(let decision) = await host.decide(queries[i % queries.count]) else { fail("host call failed") }
    return decision.permitted
}

/// 16 callers at once, each running `abiHostAsync` 200 times per batch.
func abiHostAsync16(_ i: Int) async -> Bool {
    await withTaskGroup(of: Void.self) { group in
        for caller in 0..<16 {
            group.addTask { for k in 0..<(200 / 16) { _ = await abiHostAsync(i &+ caller &* 13 &+ k) } }
        }
    }
    return true
}

struct Usage {
    var cpuNanos: Int
    var voluntarySwitches: Int
    static func now() -> Usage {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        let nanos = (Int(u.ru_utime.tv_sec) + Int(u.ru_stime.tv_sec)) * 1_000_000_000
            + (Int(u.ru_utime.tv_usec) + Int(u.ru_stime.tv_usec)) * 1_000
        return Usage(cpuNanos: nanos, voluntarySwitches: Int(u.ru_nvcsw))
    }
}

struct Figures {
    var rate: Double
    var cpuNanosEach: Double
    var switchesEach: Double
}

/// Runs `body` for about `secondsPerPhase`; `perCall` decisions per call of `body`.
func measure(_ name: String, perCall: Int, _ body: (Int) async -> Bool) async -> Figures {
    var permits = 0
    for i in 0..<(2_000 / perCall) where await body(i) { permits += 1 }  // warm up
    let start = clock.now
    let before = Usage.now()
    let deadline = start + .milliseconds(Int(secondsPerPhase * 1000))
    var ops = 0
    while clock.now < deadline {
        for i in 0..<(200 / perCall) where await body(ops &+ i) { permits += 1 }
        ops += 200 / perCall * perCall
    }
    let elapsed = clock.now - start
    let after = Usage.now()
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let figures = Figures(
        rate: Double(ops) / seconds, cpuNanosEach: Double(after.cpuNanos - before.cpuNanos) / Double(ops),
        switchesEach: Double(after.voluntarySwitches - before.voluntarySwitches) / Double(ops))
    print(
        "  \(name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(format(figures.rate)) decisions/s  (\(format(1e9 / figures.rate)) ns each, "
            + "CPU \(format(figures.cpuNanosEach)) ns, \(format(figures.switchesEach)) wake-ups)\(permits < 0 ? "" : "")")
    return figures
}

func format(_ x: Double) -> String {
    if x >= 1_000_000 { return "\((x / 10_000).rounded() / 100)M" }
    if x >= 10_000 { return "\((x / 10).rounded() / 100)k" }
    return String((x * 10).rounded() / 10)
}

print("policy-bench: whitelist, \(table.rules.count) rules, \(queries.count) queries in rotation, one caller thread,")
print("\(rounds) rounds × \(secondsPerPhase) s per phase; module \(modulePath)")
let phases: [(String, Int, (Int) async -> Bool)] = [
    ("in-process", 1, inProcess), ("ABI, inline", 1, abiInline), ("ABI, host async", 1, abiHostAsync),
    ("host async ×16", 200 / 16 * 16, abiHostAsync16),
]
var best = [Figures](repeating: Figures(rate: 0, cpuNanosEach: 0, switchesEach: 0), count: phases.count)
for round in 1...max(1, rounds) {
    print("round \(round)")
    for (n, phase) in phases.enumerated() {
        let figures = await measure(phase.0, perCall: phase.1, phase.2)
        if figures.rate > best[n].rate { best[n] = figures }
    }
}
print("")
print("best of \(rounds) rounds          decisions/s    ns each   in-process ÷ this   CPU ns each   wake-ups each")
for (n, phase) in phases.enumerated() {
    let ratio = String((best[0].rate / best[n].rate * 100).rounded() / 100)
    print(
        "  \(phase.0.padding(toLength: 16, withPad: " ", startingAt: 0))"
            + format(best[n].rate).leftPadded(16) + format(1e9 / best[n].rate).leftPadded(11) + ratio.leftPadded(19)
            + format(best[n].cpuNanosEach).leftPadded(14) + format(best[n].switchesEach).leftPadded(16))
}
let counters = module.counters
print("module counters: \(counters.calls) host calls, \(counters.failures) failures, \(counters.overruns) overruns")

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
