import Foundation
import LinkcoreRegistry
import Testing

/// `CSVImporter.check`, the fuzzing target's entry (Tests/Fuzz, FuzzRegistryCSV): it must judge
/// rows as `registry import` does, without a database.
@Suite struct CSVCheckTests {
    @Test func checkAgreesWithTheImportRowByRow() throws {
        let text = CSVImportTests.header
            + CSVImportTests.line("00000000001")
            + CSVImportTests.line("00000000002", birth: "1980-13-40")
            + "\n"
            + CSVImportTests.line("00000000003", sex: "?")
            + "\"00000000004\",\"unterminated\n"
        let registry = try TempRegistry()
        let imported = try CSVImporter(store: registry.store).importText(text)
        let checked = CSVImporter.check(text)
        #expect(checked.headerProblem == nil)
        #expect(checked.accepted == imported.imported)
        #expect(checked.rejected == imported.rejected)
    }

    @Test func aBadHeaderIsReportedNotThrown() {
        #expect(CSVImporter.check("resident_code,colour\nx,y\n").headerProblem != nil)
        #expect(CSVImporter.check("").headerProblem == "empty file: a header row is required")
    }
}
