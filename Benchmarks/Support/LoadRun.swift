import Foundation

/// What a closed-loop load phase measured: completions per second and latency percentiles.
public struct LoadRun: Sendable {
    public var rate: Double
    public var p50: Double
    public var p99: Double
    public var errors: Int
    public var count: Int
}

/// Runs `concurrency` workers for `seconds`, each calling `operation(i)` in a loop (i: the worker's
/// running index, stepping by `concurrency`) and timing it; `operation` returns whether it
/// succeeded. Latencies are of successful calls only, in microseconds.
public func runLoad(concurrency: Int, seconds: Double, _ operation: @escaping @Sendable (Int) async -> Bool) async -> LoadRun {
    let start = ContinuousClock.now
    let stop = start + .milliseconds(Int(seconds * 1000))
    let results = await withTaskGroup(of: ([Double], Int).self) { group in
        for worker in 0..<concurrency {
            group.addTask {
                var latencies: [Double] = [], errors = 0, i = worker
                while ContinuousClock.now < stop {
                    let t0 = ContinuousClock.now
                    let ok = await operation(i)
                    i += concurrency
                    if ok { latencies.append(microseconds(ContinuousClock.now - t0)) } else { errors += 1 }
                }
                return (latencies, errors)
            }
        }
        var all: ([Double], Int) = ([], 0)
        for await part in group { all.0 += part.0; all.1 += part.1 }
        return all
    }
    let latencies = results.0.sorted()
    func percentile(_ p: Double) -> Double { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
    return LoadRun(rate: Double(latencies.count) / (microseconds(ContinuousClock.now - start) / 1e6),
                   p50: percentile(0.5), p99: percentile(0.99), errors: results.1, count: latencies.count)
}

public func microseconds(_ duration: Duration) -> Double {
    let parts = duration.components
    return Double(parts.seconds) * 1e6 + Double(parts.attoseconds) / 1e12
}

/// A process's resident set (VmRSS) in bytes, 0 if unreadable.
public func residentBytes(pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return 0 }
    return kilobytes * 1024
}

extension Sequence where Element: Sendable {
    /// `map` with an async transform, one element after the other.
    public func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}

/// The CPU time (user + system) a process has used, in seconds; 0 if unreadable.
public func cpuSeconds(pid: Int32) -> Double {
    // /proc/PID/stat: the command name may hold spaces, so fields are counted after its ')'.
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return 0 }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    // After ')': state is field 3 of the whole line, so utime (14) and stime (15) are at 11 and 12.
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}
