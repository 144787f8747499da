import BenchSupport
import Foundation
import LinkcoreClient
import LinkcoreWire
import Synchronization

/// Issue 12, finding 7(c): how far apart, and in how similar an order, two receivers get the
/// events of the same changes. Its own core with two agencies, both connected and taking
/// pushes; `reports` changes, `gapMs` apart, each to both. Before the fix every receiver got its
/// push within milliseconds of the other, in the same order; `windowMs` is the delivery window.
struct Spread {
    var windowMs: Int
    var changes: Int
    /// |arrival at A - arrival at B| per change, in ms: median and largest.
    var medianGapMs: Double
    var maxGapMs: Double
    /// Share of changes that reached both receivers within 5 ms of each other.
    var within5ms: Double
    /// Share of pairs of changes that arrived in the same relative order at both (1 = the
    /// same order everywhere; about 0.5 = unrelated orders).
    var sameOrder: Double
}

func measureSpread(windowMs: Int, reports: Int, gapMs: Int) async throws -> Spread {
    let orgs = ["CITY01", "TAX01"]
    let core = try await BenchCore.start(name: "events-spread-\(windowMs)", orgs: orgs + ["MATCHER"],
                                         extraConfig: "[events]\ndelivery_window_ms = \(windowMs)")
    for org in orgs { try await core.addOrg(org) }
    try await core.addOrg("MATCHER", name: "Matcher", role: .matcher)
    // Per organisation: its link code -> the resident's index (learnt from LinkIssued), and
    // when each resident's event arrived.
    let codes = Mutex<[String: [String: Int]]>([:])
    let arrivals = Mutex<[String: [Int: ContinuousClock.Instant]]>([:])
    var connections: [LinkcoreConnection] = []
    for org in orgs {
        connections.append(try await core.connect(org) { request in
            switch request.body {
            case let .linkIssued(issued)?:
                if let i = issued.matchingNumber.split(separator: "-").last.flatMap({ Int($0) }) {
                    codes.withLock { $0[org, default: [:]][issued.linkCode] = i }
                }
                return .success(.linkIssuedAck(LCLinkIssuedAck()))
            case let .changeEvent(event)?:
                let now = ContinuousClock.now
                if let i = codes.withLock({ $0[org]?[event.linkCode] }) { arrivals.withLock { $0[org, default: [:]][i] = now } }
                return .success(.changeEventAck(LCChangeEventAck()))
            default:
                return .failure(WireError(.unknownMessage, "not expected"))
            }
        })
    }
    let matcher = try await core.connect("MATCHER")
    let resident = { (i: Int) in String(format: "3%010d", i) }
    let expires = Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000
    for i in 0..<reports {
        for org in orgs {
            _ = try await matcher.request(.issueLink(.with {
                $0.residentCode = resident(i); $0.orgCode = org; $0.matchingNumber = "spread-\(org)-\(i)"; $0.expiresAtMs = expires
            }))
        }
    }
    for _ in 0..<5_000 where codes.withLock({ $0.values.map { $0.count }.reduce(0, +) }) < reports * orgs.count {
        try await Task.sleep(for: .milliseconds(2))
    }
    for i in 0..<reports {
        _ = try await matcher.request(.reportChange(.with {
            $0.residentCode = resident(i); $0.kind = .moved; $0.reportID = "spread-\(i)"
            $0.occurredAtMs = Int64(Date().timeIntervalSince1970 * 1000)
        }))
        try await Task.sleep(for: .milliseconds(gapMs))
    }
    let deadline = ContinuousClock.now + .milliseconds(windowMs) + .seconds(60)
    while arrivals.withLock({ $0.values.map { $0.count }.reduce(0, +) }) < reports * orgs.count, ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(5))
    }
    for connection in connections + [matcher] { await connection.close() }
    await core.stop()

    let (a, b) = arrivals.withLock { ($0[orgs[0]] ?? [:], $0[orgs[1]] ?? [:]) }
    func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
    var gaps: [Double] = []
    for i in 0..<reports { if let ta = a[i], let tb = b[i] { gaps.append(abs(ms(ta - tb))) } }
    gaps.sort()
    var same = 0, pairs = 0
    for i in 0..<reports {
        for j in (i + 1)..<max(i + 1, reports) {
            guard let ai = a[i], let aj = a[j], let bi = b[i], let bj = b[j] else { continue }
            pairs += 1
            if (ai < aj) == (bi < bj) { same += 1 }
        }
    }
    guard !gaps.isEmpty else { throw BenchError(description: "no change reached both receivers (window \(windowMs) ms)") }
    return Spread(windowMs: windowMs, changes: gaps.count, medianGapMs: gaps[gaps.count / 2], maxGapMs: gaps.last ?? 0,
                  within5ms: Double(gaps.filter { $0 < 5 }.count) / Double(gaps.count),
                  sameOrder: pairs == 0 ? 0 : Double(same) / Double(pairs))
}
