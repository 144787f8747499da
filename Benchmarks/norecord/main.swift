// Issue 12, finding 7(a): how well the timing of "B has no live link to the resident" (the core
// answers NO_RECORD in B's place, after a delay drawn from B's recent reply times) is told apart
// from "B is asked and answers NO_RECORD". One requester, one mediation at a time, the two kinds
// interleaved so that both see the same machine; prints each distribution's p50/p90/p99 and the
// ratios unlinked/linked. A benchmark, not a test: nothing asserts on time.
//
//   swift build -c release --product norecord-bench && .build/release/norecord-bench [pairs=2000] [b_delay_us=0]
//
// b_delay_us: how long B takes to say "no record" (a lookup in its own system); 0 = at once.
import BenchSupport
import Foundation
import LinkcoreClient
import LinkcoreWire

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let pairs = arguments.first ?? 2000
let bDelayUs = arguments.dropFirst().first ?? 0
let bench = try await BenchCore.start(
    name: "norecord-bench", orgs: ["CITY01", "TAX01", "MATCHER"], files: ["whitelist.csv": "B1,BP-TAX,CITY01,TAX01,income,,\n"],
    extraConfig: """
    [mediation]
    whitelist = "whitelist.csv"
    """)
for (org, role) in [("CITY01", LCRole.agency), ("TAX01", .agency), ("MATCHER", .matcher)] { try await bench.addOrg(org, role: role) }

// Resident 1 is linked to A and B; resident 2 to A only.
let matcher = try await bench.connect("MATCHER")
var codes: [String: [String: String]] = [:]
for (org, residents) in [("CITY01", ["40000000001", "40000000002"]), ("TAX01", ["40000000001"])] {
    let connection = try await bench.connect(org)
    for resident in residents {
        codes[org, default: [:]][resident] = try await issueAndFetchLink(matcher: matcher, org: org, connection: connection, resident: resident)
    }
    await connection.close()
}
// B has no record of anyone: every ProvideRequest is answered NO_RECORD (after b_delay_us).
let provider = try await bench.connect("TAX01") { _ in
    if bDelayUs > 0 { try? await Task.sleep(for: .microseconds(bDelayUs)) }
    return .failure(WireError(.providerRefused, "no record", providerCode: "NO_RECORD"))
}
let a = try await bench.connect("CITY01")
let aCodes = codes["CITY01"] ?? [:]

func ask(_ resident: String) async -> (Double, WireError?) {
    let request = LCMediateRequest.with {
        $0.bpID = "BP-TAX"; $0.providerOrg = "TAX01"; $0.linkCode = aCodes[resident] ?? ""; $0.infoType = "income"
    }
    let t0 = ContinuousClock.now
    var failure: WireError?
    do { _ = try await a.request(.mediate(request)) } catch { failure = error as? WireError }
    let d = (ContinuousClock.now - t0).components
    return (Double(d.seconds) * 1e6 + Double(d.attoseconds) / 1e12, failure)
}

say("warming up")
for _ in 0..<200 { _ = await ask("40000000001"); _ = await ask("40000000002") }
say("measuring \(pairs) pairs, B answering after \(bDelayUs) us")
var linked: [Double] = [], unlinked: [Double] = [], differentReplies = 0
for i in 0..<pairs {
    // Alternate which goes first, so neither always follows the other.
    let order = i % 2 == 0 ? ["40000000001", "40000000002"] : ["40000000002", "40000000001"]
    var replies: [String: WireError?] = [:]
    for resident in order {
        let (us, error) = await ask(resident)
        replies[resident] = error
        if resident == "40000000001" { linked.append(us) } else { unlinked.append(us) }
    }
    if replies["40000000001"] ?? nil != replies["40000000002"] ?? nil { differentReplies += 1 }
}
await a.close()
await provider.close()
await matcher.close()
await bench.stop()

func quantile(_ values: [Double], _ q: Double) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * q))]
}
/// How often a single observation classifies correctly by a threshold at the pooled median: 0.5
/// means the timing tells nothing, 1.0 means it always tells.
func thresholdAccuracy(_ x: [Double], _ y: [Double]) -> Double {
    let cut = quantile(x + y, 0.5)
    let xBelow = Double(x.filter { $0 <= cut }.count) / Double(max(1, x.count))
    let yAbove = Double(y.filter { $0 > cut }.count) / Double(max(1, y.count))
    return max((xBelow + yAbove) / 2, 1 - (xBelow + yAbove) / 2)
}
print("no-record timing, \(pairs) pairs, B's own delay \(bDelayUs) us; replies that differed: \(differentReplies)")
func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
print(pad("case", 34) + ["p50 us", "p90 us", "p99 us"].map { String(repeating: " ", count: 11 - $0.count) + $0 }.joined())
for (label, values) in [("B linked, B answers NO_RECORD", linked), ("B not linked, core answers", unlinked)] {
    print(pad(label, 34) + String(format: " %10.0f %10.0f %10.0f", quantile(values, 0.5), quantile(values, 0.9), quantile(values, 0.99)))
}
print(pad("ratio unlinked/linked", 34) + String(format: " %10.2f %10.2f %10.2f",
             quantile(unlinked, 0.5) / max(1, quantile(linked, 0.5)), quantile(unlinked, 0.9) / max(1, quantile(linked, 0.9)),
             quantile(unlinked, 0.99) / max(1, quantile(linked, 0.99))))
print(String(format: "one-sample accuracy of a median threshold: %.3f (0.5 = indistinguishable)", thresholdAccuracy(linked, unlinked)))
