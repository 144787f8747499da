import Foundation

extension CSVImporter {
    /// What `importText` would do with `text`, without a store: the CSV reader, the header, each
    /// row's checks and the normalisation an insert does (`RegistryStore.prepare`). The entry of the
    /// fuzzing target `FuzzRegistryCSV` (Tests/Fuzz) and of its regression tests; it never touches
    /// a database, so a fuzzer can call it millions of times.
    public static func check(_ text: String, now: Date = Date(timeIntervalSince1970: 1_796_083_200)) -> CheckSummary {
        let today = CalendarDate(dayNumber: Int((now.timeIntervalSince1970 / 86400).rounded(.down)))
        let normaliser = FactsNormaliser()
        var summary = CheckSummary()
        var parser = CSVParser()
        var columns: [String: Int]?
        var width = 0
        func handle(_ fields: [String], _ row: Int, _ problem: String?) throws {
            guard let index = columns else {
                columns = try Self.columns(header: fields)
                width = fields.count
                return
            }
            if fields.isEmpty || (fields.count == 1 && fields[0].trimmingSpaces.isEmpty) { return }
            guard problem == nil, fields.count == width else { summary.rejected += 1; return }
            switch Self.resident(from: fields, columns: index, row: row, today: today, normaliser: normaliser) {
            case .success(let resident):
                if (try? RegistryStore.prepare([resident], normaliser: normaliser, now: now)) != nil {
                    summary.accepted += 1
                } else {
                    summary.rejected += 1
                }
            case .failure: summary.rejected += 1
            }
        }
        do {
            try parser.feed(Array(text.utf8), emit: handle)
            try parser.finish(emit: handle)
            if columns == nil { summary.headerProblem = "empty file: a header row is required" }
        } catch {
            summary.headerProblem = "\(error)"
        }
        return summary
    }

    /// Rows `check` found acceptable and rejected, or why the header was refused.
    public struct CheckSummary: Sendable, Equatable {
        public var accepted = 0
        public var rejected = 0
        public var headerProblem: String?
    }
}
