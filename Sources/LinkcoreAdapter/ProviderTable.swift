import Foundation

/// What a provider knows, by its own link codes: `link_code<TAB>answer` per line. Stands in for
/// the organisation's business system until the adapter grows a real backend (issue 7).
public struct ProviderTable: Sendable {
    public var answers: [String: String]

    public init(answers: [String: String]) { self.answers = answers }

    public static func load(path: String) throws -> ProviderTable {
        var answers: [String: String] = [:]
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw AdapterError("\(path): expected link_code<TAB>answer, got \"\(line)\"") }
            answers[String(parts[0])] = String(parts[1])
        }
        return ProviderTable(answers: answers)
    }
}
