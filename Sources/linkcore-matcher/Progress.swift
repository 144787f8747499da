import Foundation

/// A progress bar on stderr: redrawn in place (\r) when stderr is a terminal, otherwise one line
/// every 10 %. Shows percentage, rows/s and ETA.
struct ProgressBar {
    let label: String
    let total: Int
    let unit: String
    private let start = Date()
    private let interactive = isatty(STDERR_FILENO) != 0
    private var lastDraw = Date.distantPast
    private var lastDecile = -1

    init(label: String, total: Int, unit: String = "rows") {
        self.label = label
        self.total = max(total, 1)
        self.unit = unit
    }

    mutating func update(_ done: Int, rows: Int? = nil) {
        let now = Date()
        let fraction = min(Double(done) / Double(total), 1)
        let elapsed = now.timeIntervalSince(start)
        let counted = rows ?? done
        let rate = elapsed > 0 ? Double(counted) / elapsed : 0
        let eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
        let percent = String(format: "%5.1f%%", fraction * 100)
        let text = "\(label) \(percent)  \(counted) \(unit)  \(Int(rate)) \(unit)/s  ETA \(Self.duration(eta))"
        if interactive {
            guard now.timeIntervalSince(lastDraw) >= 0.1 || done >= total else { return }
            lastDraw = now
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            write("\r[\(bar)] \(text)\u{1B}[K")
        } else {
            let decile = Int(fraction * 10)
            guard decile > lastDecile else { return }
            lastDecile = decile
            write(text + "\n")
        }
    }

    func finish() {
        if interactive { write("\n") }
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
