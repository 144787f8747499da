import Foundation
import LinkcoreSQLite
import LinkcoreWire

/// Answers from a bundled SQLite file (demos and tests): `answers(person_id, info_type, answer)`.
/// Opened read-only; the organisation's "system" is the file.
public final class DatasetBackend: AnswerBackend {
    private let queue: GroupCommitQueue
    public let name = "dataset"

    public static let schema = """
        CREATE TABLE IF NOT EXISTS answers (
            person_id TEXT NOT NULL,
            info_type TEXT NOT NULL,
            answer TEXT NOT NULL,
            PRIMARY KEY (person_id, info_type)
        );
        """

    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw AdapterError("dataset \(path) does not exist (make it with `linkcore-adapter dataset --db FILE`)")
        }
        queue = GroupCommitQueue(database: try SQLiteDatabase(path: path, readOnly: true), label: "linkcore-adapter.dataset")
    }

    public func answer(_ question: ProvideQuestion) async -> Result<Data, WireError> {
        do {
            let text = try await queue.read { db in
                try db.query("SELECT answer FROM answers WHERE person_id = ? AND info_type = ?",
                             [.text(question.personID), .text(question.infoType)]).first?.string(0)
            }
            guard let text else { return .failure(ProviderCodes.refused(ProviderCodes.noRecord, "no record")) }
            return .success(Data(text.utf8))
        } catch {
            return .failure(ProviderCodes.refused(ProviderCodes.backendFailed, "dataset unreadable"))
        }
    }

    /// Creates the file with its table (no answers yet).
    public static func create(path: String) throws {
        try SQLiteDatabase(path: path).execute(schema)
    }

    /// Adds or replaces one answer (the `dataset` command).
    public static func put(path: String, personID: String, infoType: String, answer: String) throws {
        let db = try SQLiteDatabase(path: path)
        try db.execute(schema)
        try db.query("INSERT OR REPLACE INTO answers VALUES (?, ?, ?)", [.text(personID), .text(infoType), .text(answer)])
    }
}
