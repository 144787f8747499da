/// The derived keys of (organisation, key index) pairs: an open-addressing table with a cheap
/// keyed hash, used under the keyring's mutex.
///
/// Why not a `Dictionary`: every link-code operation looks a key up (a conversion twice), and
/// `Dictionary` hashes with SipHash through `Hasher`: 360 instructions a lookup, more than the
/// AES block itself (callgrind, issue 18). The organisation codes are printable ASCII of at most
/// 64 bytes, so a multiply-xor hash over their bytes, seeded at random per keyring (an attacker
/// who picks codes cannot aim at one probe chain), does the job in a few dozen.
struct KeyCache<Value> {
    private struct Entry {
        let org: String
        let index: UInt16
        let value: Value
    }

    /// Power of two, twice the most entries kept: probe chains stay short.
    private var slots: [Entry?]
    private(set) var count = 0
    let limit: Int
    private let seed: UInt64

    init(limit: Int, seed: UInt64) {
        var capacity = 16
        while capacity < limit * 2 { capacity *= 2 }
        slots = Array(repeating: nil, count: capacity)
        self.limit = limit
        self.seed = seed
    }

    func value(org: String, index: UInt16) -> Value? {
        var slot = home(org: org, index: index)
        while let entry = slots[slot] {
            if entry.index == index && entry.org == org { return entry.value }
            slot = (slot + 1) & (slots.count - 1)
        }
        return nil
    }

    /// Keeps `value` unless the pair is already there; returns the value kept. When the table is
    /// full it starts again empty: the keys are derived again on their next use (HKDF, a few
    /// microseconds each), which only a network with more than `limit` live pairs would pay.
    mutating func insert(_ value: Value, org: String, index: UInt16) -> Value {
        if let existing = self.value(org: org, index: index) { return existing }
        if count >= limit {
            for i in slots.indices { slots[i] = nil }
            count = 0
        }
        var slot = home(org: org, index: index)
        while slots[slot] != nil { slot = (slot + 1) & (slots.count - 1) }
        slots[slot] = Entry(org: org, index: index, value: value)
        count += 1
        return value
    }

    private func home(org: String, index: UInt16) -> Int {
        var h = seed ^ UInt64(index)
        var org = org
        org.withUTF8 { bytes in
            for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        }
        // The top bits of a multiply mix best.
        h = (h ^ (h >> 29)) &* 0xbf58_476d_1ce4_e5b9
        return Int(truncatingIfNeeded: h >> 32) & (slots.count - 1)
    }
}
