import Foundation
import Testing

/// The shipped units' resource limits and runtime directory, as an operator reads them in
/// `systemctl cat` (issue 12, finding 16c).
@Suite struct UnitFileTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized.path
    static let services = ["linkcored.service", "linkcore-matcher.service", "linkcore-adapter.service", "linkcore-portal.service"]

    /// `Key=value` lines of a unit's [Service] section, comments left out.
    static func directives(_ unit: String) throws -> [(key: String, value: String)] {
        let text = try String(contentsOfFile: root + "/systemd/" + unit, encoding: .utf8)
        var inService = false
        var found: [(String, String)] = []
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") { inService = line == "[Service]"; continue }
            guard inService, !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { continue }
            found.append((String(line[..<equals]), String(line[line.index(after: equals)...])))
        }
        return found
    }

    @Test(arguments: services)
    func noCoreDumpsBoundedTasksAndMemoryGuidance(unit: String) throws {
        let service = try Self.directives(unit)
        // A core dump would write the process's keys to disk.
        #expect(service.filter { $0.key == "LimitCORE" }.map(\.value) == ["0"], "\(unit)")
        let tasks = service.filter { $0.key == "TasksMax" }.compactMap { Int($0.value) }
        #expect(tasks.count == 1 && tasks[0] > 0 && tasks[0] <= 4096, "\(unit): TasksMax \(tasks)")
        // Memory limits are site-specific: shipped as commented guidance the operator fills in.
        let text = try String(contentsOfFile: Self.root + "/systemd/" + unit, encoding: .utf8)
        #expect(text.contains("\n#MemoryHigh=") && text.contains("\n#MemoryMax="), "\(unit) has no memory guidance")
    }

    @Test func theRuntimeDirectoryModeIsTheOneTheDocumentsState() throws {
        let mode = try #require(Self.directives("linkcored.service").first { $0.key == "RuntimeDirectoryMode" }?.value)
        #expect(mode == "0700", "only the daemon's user (and root) may reach the admin socket's directory")
        let protocolDoc = try String(contentsOfFile: Self.root + "/docs/protocol.md", encoding: .utf8)
        #expect(protocolDoc.contains("mode 0600 in a\n\(mode) directory") || protocolDoc.contains("mode 0600 in a \(mode) directory"))
    }
}
