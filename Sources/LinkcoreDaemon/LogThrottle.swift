import Synchronization

/// Caps how many lines one key (an organisation) may cause per window, so a peer sending
/// thousands of bad requests cannot flood the journal; what was held back is counted and
/// reported with the next line let through.
final class LogThrottle: Sendable {
    private struct Window { var startedAt: ContinuousClock.Instant; var lines: Int; var suppressed: Int }
    private let windows = Mutex<[String: Window]>([:])
    let linesPerWindow: Int
    let window: Duration

    init(linesPerWindow: Int = 20, window: Duration = .seconds(10)) {
        self.linesPerWindow = linesPerWindow
        self.window = window
    }

    /// nil: hold this line back. Otherwise log it, with the number of lines held back before it.
    func admit(_ key: String, now: ContinuousClock.Instant = .now) -> Int? {
        windows.withLock { windows in
            var current = windows[key] ?? Window(startedAt: now, lines: 0, suppressed: 0)
            var carried = 0
            if now - current.startedAt >= window {
                carried = current.suppressed
                current = Window(startedAt: now, lines: 0, suppressed: 0)
            }
            defer { windows[key] = current }
            guard current.lines < linesPerWindow else {
                current.suppressed += 1
                return nil
            }
            current.lines += 1
            return carried
        }
    }
}
