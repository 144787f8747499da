import Foundation

extension DaemonProcess {
    /// The daemon's resident set (VmRSS of /proc/<pid>/status), in bytes.
    func residentBytes() throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ").dropFirst().first ?? "") else {
            throw TestFailure("no VmRSS for linkcored")
        }
        return kib * 1024
    }
}
