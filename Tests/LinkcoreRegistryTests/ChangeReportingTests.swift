import Foundation
import LinkcoreRegistry
import Testing

/// The matcher's reporting cursor over the change log: starts at zero, only moves forward,
/// survives reopening the file, and gives each change a stable report id.
@Suite struct ChangeReportingTests {
    @Test func theCursorOnlyMovesForwardAndSurvivesReopening() throws {
        let registry = try TempRegistry()
        let (instance, start) = try registry.store.reportingCursor()
        #expect(start == 0)
        #expect(instance.count == 16)
        try registry.store.advanceReportingCursor(to: 5)
        try registry.store.advanceReportingCursor(to: 3)
        #expect(try registry.store.reportingCursor().sequence == 5)
        let reopened = try RegistryStore(path: registry.directory + "/registry.db")
        let again = try reopened.reportingCursor()
        #expect(again.instance == instance && again.sequence == 5)
        #expect(RegistryStore.reportID(instance: instance, sequence: 5) == "\(instance)-5")
        // Another registry file gets another instance, so its report ids never collide.
        #expect(try TempRegistry().store.reportingCursor().instance != instance)
    }
}
