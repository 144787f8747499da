/// Request counts and latencies over a sliding window of one-second slots, cheap enough to
/// feed once per read batch. Latencies land in log-spaced buckets (about 9% wide), so p50/p99
/// are estimates good to one bucket.
struct LatencyWindow: Sendable {
    static let slots = 10
    static let bucketCount = 200  // up to about a minute

    private struct Slot: Sendable {
        var second: Int64 = -1
        var count: UInt64 = 0
        var buckets = [UInt32](repeating: 0, count: LatencyWindow.bucketCount)
    }

    private var slots = [Slot](repeating: Slot(), count: LatencyWindow.slots)

    static func bucket(forMicros us: UInt64) -> Int {
        // 8 buckets per doubling above 8 µs; linear below.
        if us < 8 { return Int(us) }
        let log2 = 63 - us.leadingZeroBitCount
        let fraction = Int((us >> UInt64(log2 - 3)) & 7)
        return min(bucketCount - 1, 8 + (log2 - 3) * 8 + fraction)
    }

    static func upperMicros(ofBucket b: Int) -> UInt64 {
        if b < 8 { return UInt64(b) }
        let log2 = (b - 8) / 8 + 3
        let fraction = UInt64((b - 8) % 8)
        return (8 + fraction + 1) << UInt64(log2 - 3)
    }

    private mutating func slot(at second: Int64) -> Int {
        let index = Int(second % Int64(Self.slots))
        if slots[index].second != second { slots[index] = Slot(second: second) }
        return index
    }

    mutating func record(micros: UInt64, at second: Int64) {
        let index = slot(at: second)
        slots[index].count += 1
        slots[index].buckets[Self.bucket(forMicros: micros)] += 1
    }

    /// Requests answered at once on the event loop (pings, refusals): counted, not timed.
    mutating func count(_ n: Int, at second: Int64) {
        guard n > 0 else { return }
        slots[slot(at: second)].count += UInt64(n)
    }

    /// Requests per second and latency percentiles over the completed slots of the window.
    func summary(now second: Int64) -> (perSecond: Double, p50: UInt64, p99: UInt64) {
        var merged = [UInt64](repeating: 0, count: Self.bucketCount)
        var counted: UInt64 = 0
        for slot in slots where slot.second < second && slot.second >= second - Int64(Self.slots) {
            counted += slot.count
            for (i, n) in slot.buckets.enumerated() { merged[i] += UInt64(n) }
        }
        let total = merged.reduce(0, +)
        func percentile(_ p: Double) -> UInt64 {
            guard total > 0 else { return 0 }
            let rank = UInt64((Double(total) * p).rounded(.up))
            var seen: UInt64 = 0
            for (i, n) in merged.enumerated() {
                seen += n
                if seen >= rank { return Self.upperMicros(ofBucket: i) }
            }
            return Self.upperMicros(ofBucket: Self.bucketCount - 1)
        }
        return (Double(counted) / Double(Self.slots - 1), percentile(0.5), percentile(0.99))
    }
}
