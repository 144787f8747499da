import Foundation
import LinkcorePostgresStore
import LinkcoreStore

/// The store engines the conformance suite and the domain tests run against, as a test argument:
/// `@Test(arguments: TestStoreEngine.allCases) func x(engine: TestStoreEngine)`.
public enum TestStoreEngine: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgresql
    public var description: String { rawValue }
}

/// A fresh, empty store of one engine: a temporary SQLite file, or a new database on the test
/// process's PostgreSQL server. `close()` releases it.
public struct TestStore: Sendable {
    public let engine: TestStoreEngine
    public let store: any CoreStore & EventStore & NoticeStore
    /// The SQLite file (sqlite only).
    public let sqlitePath: String?
    /// The database (postgresql only): psql for independent checks and tampering.
    public let database: PostgresTestDatabase?

    public static func make(_ engine: TestStoreEngine) async throws -> TestStore {
        switch engine {
        case .sqlite:
            let path = NSTemporaryDirectory() + "linkcore-store-\(UUID().uuidString.prefix(8)).sqlite"
            return TestStore(engine: engine, store: try SQLiteCoreStore(path: path), sqlitePath: path, database: nil)
        case .postgresql:
            let database = try await PostgresServer.shared.database()
            let store = try await PostgresCoreStore.open(settings: try PostgresSettings.parse(database.url))
            return TestStore(engine: engine, store: store, sqlitePath: nil, database: database)
        }
    }

    /// Another store on the same data (a second node on the same database, or the file reopened).
    public func reopen() async throws -> any CoreStore & EventStore & NoticeStore {
        if let sqlitePath { return try SQLiteCoreStore(path: sqlitePath) }
        guard let database else { throw TestFailure("no database") }
        return try await PostgresCoreStore.open(settings: try PostgresSettings.parse(database.url))
    }

    public func close() async {
        if let store = store as? PostgresCoreStore { await store.close() }
        if let database { await database.drop() }
        if let sqlitePath {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: sqlitePath + suffix) }
        }
    }
}
