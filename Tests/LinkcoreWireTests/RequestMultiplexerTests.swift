import NIOCore
import Testing
@testable import LinkcoreWire

@Suite struct RequestMultiplexerTests {
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func idsStartAtOneAndRepliesMatchInAnyOrder() {
        var requests = RequestMultiplexer<String>()
        let a = requests.start("a", deadline: nil)
        let b = requests.start("b", deadline: nil)
        let c = requests.start("c", deadline: nil)
        #expect([a, b, c] == [1, 2, 3] && requests.count == 3)
        #expect(requests.complete(c) == "c")
        #expect(requests.complete(a) == "a")
        #expect(requests.complete(a) == nil, "answered once")
        #expect(requests.complete(99) == nil, "an id never used")
        #expect(requests.count == 1 && !requests.isEmpty)
    }

    @Test func deadlinesExpireFromTheGivenTime() {
        var requests = RequestMultiplexer<String>()
        _ = requests.start("late", deadline: t0 + .seconds(20))
        _ = requests.start("never", deadline: nil)
        _ = requests.start("soon", deadline: t0 + .seconds(10))
        #expect(requests.earliestDeadline == t0 + .seconds(10))
        #expect(requests.expire(now: t0 + .seconds(9)).isEmpty)
        #expect(requests.expire(now: t0 + .seconds(10)).map(\.waiter) == ["soon"])
        #expect(requests.earliestDeadline == t0 + .seconds(20))
        #expect(requests.expire(now: t0 + .seconds(60)).map(\.id) == [1])
        #expect(requests.earliestDeadline == nil && requests.count == 1)
    }

    @Test func limitingDeadlinesBringsLaterOnesForward() {
        var requests = RequestMultiplexer<String>()
        _ = requests.start("early", deadline: t0 + .seconds(1))
        _ = requests.start("late", deadline: t0 + .seconds(30))
        _ = requests.start("none", deadline: nil)
        requests.limitDeadlines(to: t0 + .seconds(4))
        #expect(requests.expire(now: t0 + .seconds(1)).map(\.waiter) == ["early"])
        #expect(requests.earliestDeadline == t0 + .seconds(4))
        #expect(requests.expire(now: t0 + .seconds(4)).map(\.waiter) == ["late", "none"])
    }

    @Test func closingTakesEverythingOldestFirst() {
        var requests = RequestMultiplexer<Int>()
        for waiter in 10..<15 { _ = requests.start(waiter, deadline: t0) }
        #expect(requests.removeAll().map(\.waiter) == [10, 11, 12, 13, 14])
        #expect(requests.isEmpty && requests.earliestDeadline == nil)
        #expect(requests.start(15, deadline: nil) == 6, "ids are never reused on a connection")
    }
}
