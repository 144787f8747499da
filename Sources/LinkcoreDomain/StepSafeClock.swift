import Foundation

/// The wall clock read for retention windows that a step of the clock (an NTP step, an operator's
/// `date -s`) must not shorten (issue 17, item 5; docs/reliability.md, "The clock jumps").
///
/// A window such as an idempotency key's must last at least its length in real time, or a retry
/// after a forward step would run twice. The monotonic clock (`ContinuousClock`, which no step of the
/// wall clock moves) measures real time but says nothing about the date, so the two are read
/// together: the wall clock as it was at start plus the monotonic time since ("anchored"), and
/// the wall clock now. A window starts at the later of the two (`latestMs`) and is judged over at
/// the earlier (`earliestMs`): while the process runs, neither a step forward nor a step back
/// ends a window early; a step only makes it last longer, by the step. (A step while the process
/// is down is not seen: the anchor is taken at start.)
public struct StepSafeClock: Sendable {
    private let wallMs: @Sendable () -> Int64
    private let elapsedMs: @Sendable () -> Int64
    private let anchorMs: Int64

    public static let systemWallMs: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }

    /// `wallMs` is the wall clock; `elapsedMs`, when given, the monotonic milliseconds since this
    /// clock was made (by default measured on `ContinuousClock`). Tests inject both.
    public init(wallMs: @escaping @Sendable () -> Int64 = StepSafeClock.systemWallMs,
                elapsedMs: (@Sendable () -> Int64)? = nil) {
        self.wallMs = wallMs
        self.anchorMs = wallMs()
        if let elapsedMs {
            self.elapsedMs = elapsedMs
        } else {
            let start = ContinuousClock.now
            self.elapsedMs = {
                let (seconds, attoseconds) = (ContinuousClock.now - start).components
                return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
            }
        }
    }

    /// The wall clock as at start plus the monotonic time since: the steps since start left out.
    public func anchoredMs() -> Int64 { anchorMs + elapsedMs() }

    /// When a window that starts now starts: never before the anchored time, so a window opened
    /// while the clock is stepped back is not dated back with it.
    public func latestMs() -> Int64 { max(wallMs(), anchoredMs()) }

    /// The time a window is judged over at: never after the anchored time, so a step forward
    /// does not end windows early.
    public func earliestMs() -> Int64 { min(wallMs(), anchoredMs()) }
}
