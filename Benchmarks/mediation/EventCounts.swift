import Foundation

/// Runtime events in the core per mediation, for one phase (issue 13's before/after question:
/// does the core do more work per mediation?). CPU time per mediation moves with the machine's
/// load and with how requests happen to batch; how many mallocs, Swift object allocations,
/// retains, task creations and task switches the core makes per mediation is what the code does,
/// and a busy machine does not change it much.
///
/// `BENCH_COUNT_EVENTS` holds a `perf stat -e` list, uprobes included (made by
/// `Benchmarks/run-mediation-counts.sh`). For each level, `perf stat` attaches to the core for
/// the phase's first `seconds - 0.5` s (its `--timeout`: a backgrounded perf may ignore SIGINT),
/// and mediations in that window are the phase's rate times the window.
struct EventCounter {
    let events: String
    let window: Double

    static func fromEnvironment(seconds: Double) -> EventCounter? {
        guard let events = ProcessInfo.processInfo.environment["BENCH_COUNT_EVENTS"], !events.isEmpty else { return nil }
        return EventCounter(events: events, window: max(0.5, seconds - 0.5))
    }

    /// Starts counting in `pid`; the returned process ends by itself after the window.
    func start(pid: Int32, output: String) throws -> Process {
        let perf = Process()
        perf.executableURL = URL(fileURLWithPath: "/usr/bin/perf")
        perf.arguments = ["stat", "-x,", "-e", events, "-p", "\(pid)", "--timeout", "\(Int(window * 1000))", "-o", output]
        try perf.run()
        return perf
    }

    /// Each event's count per mediation (`task-clock` in µs per mediation), in the order given.
    func perMediation(_ perf: Process, output: String, rate: Double) -> [(event: String, value: Double)] {
        perf.waitUntilExit()
        let mediations = max(1, rate * window)
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        var counts: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            // CSV: value,unit,event,...
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            guard cells.count > 2, let value = Double(cells[0]) else { continue }
            counts[String(cells[2])] = cells[2] == "task-clock" ? value * 1000 : value  // msec -> µs
        }
        return events.split(separator: ",").map { event in
            let name = String(event)
            return (name.split(separator: ":").last.map(String.init) ?? name, (counts[name] ?? 0) / mediations)
        }
    }
}
