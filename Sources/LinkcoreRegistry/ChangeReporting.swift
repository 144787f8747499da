/// The matcher's side of change events: a cursor over the change log, kept in the registry
/// file itself, so a change is reported to the core at least once across restarts and crashes.
/// The cursor only moves after the core has acknowledged (durably) every change up to it.
extension RegistryStore {
    /// The last sequence the core acknowledged, and the registry's instance id.
    public func reportingCursor() throws -> (instance: String, sequence: Int64) {
        try withDatabase { db in
            guard let row = try db.query("SELECT instance, reported_sequence FROM change_reporting WHERE id = 1").first,
                  let instance = row.string(0), let sequence = row.int(1) else {
                throw ChangeReportingError(message: "change_reporting has no cursor row")
            }
            return (instance, sequence)
        }
    }

    /// Moves the cursor forward (never back) once the core has acknowledged up to `sequence`.
    public func advanceReportingCursor(to sequence: Int64) throws {
        _ = try withDatabase { db in
            try db.query("UPDATE change_reporting SET reported_sequence = max(reported_sequence, ?) WHERE id = 1", [.integer(sequence)])
        }
    }

    /// The id under which a change is reported: stable for the change, so a report re-sent
    /// after a crash is recognised by the core and not fanned out twice.
    public static func reportID(instance: String, sequence: Int64) -> String { "\(instance)-\(sequence)" }
}

public struct ChangeReportingError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}
