@testable import LinkcoreLinkCodes
import Testing

/// The keyring's key table: what goes in comes out under the same (organisation, index) pair
/// only, whatever the probe chains look like, and a full table starts again.
@Suite struct KeyCacheTests {
    @Test func eachPairFindsItsOwnValue() {
        var cache = KeyCache<Int>(limit: 600, seed: 7)
        for n in 0..<600 { #expect(cache.insert(n, org: "ORG-\(n % 200)", index: UInt16(n / 200)) == n) }
        for n in 0..<600 { #expect(cache.value(org: "ORG-\(n % 200)", index: UInt16(n / 200)) == n) }
        #expect(cache.value(org: "ORG-0", index: 3) == nil)
        #expect(cache.value(org: "ORG-200", index: 0) == nil)
        #expect(cache.value(org: "ORG-", index: 0) == nil)
        #expect(cache.count == 600)
    }

    @Test func theFirstValueOfAPairIsKept() {
        var cache = KeyCache<String>(limit: 4, seed: 1)
        #expect(cache.insert("first", org: "CITY01", index: 1) == "first")
        #expect(cache.insert("raced", org: "CITY01", index: 1) == "first")
        #expect(cache.count == 1)
    }

    /// A seed that sends every pair to one slot still answers right (one long probe chain).
    @Test func collidingPairsAreToldApart() {
        var cache = KeyCache<Int>(limit: 8, seed: 0)
        let pairs = (0..<8).map { ("A\($0)", UInt16($0 % 2)) }
        for (n, pair) in pairs.enumerated() { _ = cache.insert(n, org: pair.0, index: pair.1) }
        for (n, pair) in pairs.enumerated() { #expect(cache.value(org: pair.0, index: pair.1) == n) }
    }

    @Test func aFullTableStartsAgain() {
        var cache = KeyCache<Int>(limit: 3, seed: 9)
        for n in 0..<3 { _ = cache.insert(n, org: "ORG-\(n)", index: 0) }
        _ = cache.insert(3, org: "ORG-3", index: 0)
        #expect(cache.count == 1)
        #expect(cache.value(org: "ORG-3", index: 0) == 3)
        #expect(cache.value(org: "ORG-0", index: 0) == nil)
    }
}
