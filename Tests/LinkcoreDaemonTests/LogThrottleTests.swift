@testable import LinkcoreDaemon
import Testing

@Suite struct LogThrottleTests {
    @Test func aFloodingPeerIsHeldBackPerWindowAndTheCountIsReportedLater() {
        let throttle = LogThrottle(linesPerWindow: 3, window: .seconds(10))
        let t0 = ContinuousClock.now
        let first = (0..<10).map { throttle.admit("BANK01", now: t0 + .milliseconds($0)) }
        #expect(first.compactMap { $0 }.count == 3)               // three lines, seven held back
        #expect(throttle.admit("CITY01", now: t0 + .seconds(1)) != nil)   // another peer is not affected
        let next = throttle.admit("BANK01", now: t0 + .seconds(11))
        #expect(next == 7)                      // the next window says what was held back
        #expect(throttle.admit("BANK01", now: t0 + .seconds(12)) == 0)
    }
}
