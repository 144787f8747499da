@testable import LinkcorePolicy
import Testing

/// The watchdog's bookkeeping, driven with made-up instants: which calls it fails, when it looks
/// again, and when it sleeps until woken. The thread around it is tested with a hanging module
/// (AsyncPathTests, HostTests).
@Suite struct DeadlineWatchTests {
    @Test func aCallPastItsDeadlineIsDueAndAnAnsweredOneIsDropped() {
        var watch = DeadlineWatch<String>(linger: 100)
        _ = watch.watch("answered", until: 1_000)
        _ = watch.watch("hung", until: 1_010)
        _ = watch.watch("young", until: 2_000)
        let answered: Set = ["answered"]

        let early = watch.look(now: 1_005) { answered.contains($0) }
        #expect(early.due.isEmpty)
        #expect(early.next == .waitUntil(1_010))
        #expect(watch.count == 2)

        let later = watch.look(now: 1_010) { answered.contains($0) }
        #expect(later.due == ["hung"])
        #expect(later.next == .waitUntil(2_000))
        #expect(watch.count == 1)
    }

    @Test func aCallIsNeverFailedBeforeItsDeadline() {
        var watch = DeadlineWatch<Int>(linger: 100)
        for i in 0..<10 { _ = watch.watch(i, until: 1_000 + UInt64(i)) }
        let look = watch.look(now: 1_004) { _ in false }
        #expect(look.due == [0, 1, 2, 3, 4])
        #expect(look.next == .waitUntil(1_005))
    }

    @Test func aBusyWatchdogIsNeverWokenAndAnIdleOneSleepsAfterALinger() {
        var watch = DeadlineWatch<Int>(linger: 100)
        // Starts awake: the first look decides (in the daemon it runs at once, finds nothing
        // watched and sleeps, so a module's first call is the wake-up: AsyncPathTests'
        // testEveryWorkerStuckIsRefusedAtOnce hangs on that first call).
        #expect(watch.watch(1, until: 50) == false)
        #expect(watch.look(now: 60) { _ in true }.next == .waitUntil(160))  // watched since: linger
        #expect(watch.look(now: 160) { _ in true }.next == .waitForWork)  // a whole linger with none
        #expect(watch.asleep)
        #expect(watch.watch(2, until: 300) == true)  // the one wake-up
        #expect(watch.watch(3, until: 301) == false)
        #expect(watch.look(now: 200) { _ in false }.next == .waitUntil(300))
    }

    @Test func aStopHandsBackEveryCallStillWatched() {
        var watch = DeadlineWatch<Int>(linger: 100)
        for i in 0..<3 { _ = watch.watch(i, until: 10) }
        _ = watch.look(now: 5) { $0 == 0 }
        #expect(watch.removeAll() == [1, 2])
        #expect(watch.count == 0)
    }
}
