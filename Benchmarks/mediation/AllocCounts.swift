import Foundation

/// The core's allocations per mediation (issue 18, "guard the numbers"), read from the counters
/// of `Benchmarks/alloc/malloc_count.c`, which `run-alloc-counts.sh` preloads into the core
/// (`LINKCORE_ALLOC_COUNTS` names the shared file; the core's name gates the counting, so this
/// bench, which inherits LD_PRELOAD, counts nothing itself). Unlike the uprobes of
/// `EventCounts.swift`, this needs neither root nor perf, and the counts are exact.
struct AllocCounter {
    let path: String

    static func fromEnvironment() -> AllocCounter? {
        guard let path = ProcessInfo.processInfo.environment["LINKCORE_ALLOC_COUNTS"], !path.isEmpty else { return nil }
        return AllocCounter(path: path)
    }

    /// allocs, frees, reallocs, bytes (the file's four little-endian UInt64s).
    func read() -> [UInt64] {
        guard let data = FileManager.default.contents(atPath: path), data.count >= 32 else { return [0, 0, 0, 0] }
        return (0..<4).map { i in data[(i * 8)..<(i * 8 + 8)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) } }
    }
}
