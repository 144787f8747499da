import Foundation
import LinkcoreSQLite
import Synchronization

public enum ResidentStatus: String, Sendable, Equatable {
    case alive
    case deceased
}

/// One resident as the registry holds them (facts as recorded, not normalised).
public struct Resident: Sendable, Equatable {
    public var residentCode: String
    public var myNumber: String
    public var name: String
    public var nameKana: String?
    public var address: String
    /// As recorded; normalised to ISO `YYYY-MM-DD` on insert.
    public var birthDate: String
    public var sex: Sex
    public var status: ResidentStatus

    public init(residentCode: String, myNumber: String, name: String, nameKana: String?, address: String,
                birthDate: String, sex: Sex, status: ResidentStatus = .alive) {
        self.residentCode = residentCode
        self.myNumber = myNumber
        self.name = name
        self.nameKana = nameKana
        self.address = address
        self.birthDate = birthDate
        self.sex = sex
        self.status = status
    }

    public var facts: Facts { Facts(name: name, nameKana: nameKana, address: address, birthDate: birthDate, sex: sex) }
}

/// A resident with the comparison form the registry indexes.
public struct StoredResident: Sendable, Equatable {
    public var resident: Resident
    public var normalised: NormalisedFacts
    public var updatedAt: Date
}

public enum RegistryError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownResident(String)
    case deceased(String)
    case invalid(InvalidFact)
    case duplicateResidentCode(String)
    case duplicateMyNumber(String)

    public var description: String {
        switch self {
        case let .unknownResident(code): "unknown resident \(code)"
        case let .deceased(code): "resident \(code) is deceased"
        case let .invalid(fact): fact.description
        case let .duplicateResidentCode(code): "duplicate resident code \(code)"
        case let .duplicateMyNumber(number): "duplicate my number \(number)"
        }
    }
}

/// A change to a resident's four facts, as a municipality reports it (転居, 改姓, 死亡).
public enum ResidentChange: Sendable, Equatable {
    case moved(address: String)
    case renamed(name: String, nameKana: String?)
    case died

    public var kind: String {
        switch self {
        case .moved: "moved"
        case .renamed: "renamed"
        case .died: "died"
        }
    }
}

/// A change as recorded in the registry's change log: what the network reports onwards
/// (the event only, never the new facts).
public struct RecordedChange: Sendable, Equatable {
    public var sequence: Int64
    public var residentCode: String
    public var kind: String
    public var at: Date
}

public struct RegistryStats: Sendable, Equatable {
    public var residents: Int
    public var alive: Int
    public var deceased: Int
    /// Groups of living residents sharing normalised name, birth date and sex (a match needs the
    /// address to tell them apart), and how many residents they hold.
    public var homonymGroups: Int
    public var residentsInHomonymGroups: Int
    /// Groups sharing all four normalised facts: no match on facts can pick one of them.
    public var ambiguousGroups: Int
    public var residentsInAmbiguousGroups: Int
    public var matchingNumbersOutstanding: Int
    public var matchingNumbersUsed: Int
    public var matchingNumbersExpired: Int
    public var changes: Int
}

/// The resident registry's own SQLite file (never the core's). Thread-safe: one connection,
/// serialised by a mutex.
public final class RegistryStore: Sendable {
    private let database: Mutex<SQLiteDatabase>
    public let path: String
    public let normaliser = FactsNormaliser()

    static let migrations: [String] = [
        // v1: residents and one-time matching numbers.
        """
        CREATE TABLE residents (
            id            INTEGER PRIMARY KEY,
            resident_code TEXT NOT NULL UNIQUE,
            my_number     TEXT NOT NULL UNIQUE,
            name          TEXT NOT NULL,
            name_kana     TEXT,
            address       TEXT NOT NULL,
            birth_date    TEXT NOT NULL,            -- ISO YYYY-MM-DD
            sex           INTEGER NOT NULL CHECK (sex IN (1, 2)),
            status        TEXT NOT NULL DEFAULT 'alive' CHECK (status IN ('alive', 'deceased')),
            name_norm     TEXT NOT NULL,
            kana_norm     TEXT,
            address_norm  TEXT NOT NULL,
            updated_at    INTEGER NOT NULL          -- ms since the epoch
        );
        CREATE INDEX residents_match ON residents (name_norm, birth_date, sex);
        CREATE TABLE matching_numbers (
            number        TEXT PRIMARY KEY,
            resident_code TEXT NOT NULL REFERENCES residents (resident_code),
            org_code      TEXT NOT NULL,
            consent_ref   TEXT NOT NULL,
            created_at    INTEGER NOT NULL,         -- ms since the epoch
            expires_at    INTEGER NOT NULL,
            used_at       INTEGER
        ) WITHOUT ROWID;
        CREATE INDEX matching_numbers_expiry ON matching_numbers (expires_at);
        """,
        // v2: the change log the network reports events from.
        """
        CREATE TABLE resident_changes (
            sequence      INTEGER PRIMARY KEY AUTOINCREMENT,
            resident_code TEXT NOT NULL REFERENCES residents (resident_code),
            kind          TEXT NOT NULL CHECK (kind IN ('moved', 'renamed', 'died')),
            changed_at    INTEGER NOT NULL
        );
        """,
        // v3: how far the change log has been reported to the core (see ChangeReporting.swift),
        // and a random instance id that keeps report ids unique if a registry is rebuilt.
        """
        CREATE TABLE change_reporting (
            id                INTEGER PRIMARY KEY CHECK (id = 1),
            instance          TEXT NOT NULL,
            reported_sequence INTEGER NOT NULL
        );
        INSERT INTO change_reporting (id, instance, reported_sequence) VALUES (1, lower(hex(randomblob(8))), 0);
        """,
    ]

    public init(path: String) throws {
        let db = try SQLiteDatabase(path: path)
        try db.migrate(Self.migrations)
        self.path = path
        database = Mutex(db)
    }

    /// Runs `body` with the connection, serialised with every other use of the store.
    public func withDatabase<T: Sendable>(_ body: (SQLiteDatabase) throws -> T) throws -> T {
        try database.withLock { db throws -> T in try body(db) }
    }

    // MARK: residents

    static let insertSQL = """
        INSERT INTO residents (resident_code, my_number, name, name_kana, address, birth_date, sex, status,
                               name_norm, kana_norm, address_norm, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// Validates and normalises `resident` into insert parameters.
    func parameters(for resident: Resident, now: Date) -> Result<[SQLiteValue], RegistryError> {
        Self.parameters(for: resident, normaliser: normaliser, now: now)
    }

    static func parameters(for resident: Resident, normaliser: FactsNormaliser, now: Date) -> Result<[SQLiteValue], RegistryError> {
        if let problem = ResidentCode.problem(resident.residentCode) {
            return .failure(.invalid(InvalidFact(field: "resident_code", reason: problem)))
        }
        if let problem = MyNumber.problem(resident.myNumber) {
            return .failure(.invalid(InvalidFact(field: "my_number", reason: problem)))
        }
        let normalised: NormalisedFacts
        switch normaliser.normalise(resident.facts) {
        case let .success(n): normalised = n
        case let .failure(fact): return .failure(.invalid(fact))
        }
        return .success([
            .text(resident.residentCode), .text(resident.myNumber), .text(resident.name),
            resident.nameKana.map(SQLiteValue.text) ?? .null, .text(resident.address), .text(normalised.birthDate),
            .integer(Int64(resident.sex.rawValue)), .text(resident.status.rawValue),
            .text(normalised.name), normalised.nameKana.map(SQLiteValue.text) ?? .null, .text(normalised.address),
            .integer(now.milliseconds),
        ])
    }

    /// Inserts residents in one transaction: all or none.
    public func insert(_ residents: [Resident], now: Date = Date()) throws {
        try insert(try Self.prepare(residents, normaliser: normaliser, now: now))
    }

    /// Residents validated and normalised, ready to insert: preparing needs no lock, so a loader
    /// can prepare the next batch on another thread while this one is written.
    public struct PreparedResidents: Sendable {
        var rows: [[SQLiteValue]]
        public var count: Int { rows.count }
    }

    public static func prepare(_ residents: [Resident], normaliser: FactsNormaliser = FactsNormaliser(),
                               now: Date = Date()) throws -> PreparedResidents {
        PreparedResidents(rows: try residents.map { try parameters(for: $0, normaliser: normaliser, now: now).get() })
    }

    /// Inserts prepared residents in one transaction: all or none.
    public func insert(_ prepared: PreparedResidents) throws {
        try database.withLock { db in
            try db.transaction {
                for row in prepared.rows { try Self.insert(parameters: row, into: db) }
            }
        }
    }

    /// Runs `body` with durability relaxed for a bulk load (`synchronous = OFF`, a 64 MiB page
    /// cache), then restores `synchronous = FULL` and checkpoints the WAL into the database with
    /// fsync. A crash during the load can lose or corrupt the load: for reproducible data only.
    public func bulkLoad<T>(_ body: () throws -> T) throws -> T {
        try withDatabase { db in try db.execute("PRAGMA synchronous = OFF; PRAGMA cache_size = -65536") }
        let result: T
        do {
            result = try body()
        } catch {
            try? restoreDurability()
            throw error
        }
        try restoreDurability()
        return result
    }

    private func restoreDurability() throws {
        try withDatabase { db in
            try db.execute("PRAGMA synchronous = FULL; PRAGMA cache_size = -2000")
            try db.query("PRAGMA wal_checkpoint(TRUNCATE)")
            return ()
        }
    }

    static func insert(_ resident: Resident, into db: SQLiteDatabase, store: RegistryStore, now: Date) throws {
        try insert(parameters: try store.parameters(for: resident, now: now).get(), into: db)
    }

    static func insert(parameters: [SQLiteValue], into db: SQLiteDatabase) throws {
        do {
            try db.query(insertSQL, parameters)
        } catch let error as SQLiteError where error.isConstraintViolation {
            func text(_ i: Int) -> String { if case let .text(t) = parameters[i] { return t }; return "" }
            if error.message.contains("resident_code") { throw RegistryError.duplicateResidentCode(text(0)) }
            if error.message.contains("my_number") { throw RegistryError.duplicateMyNumber(text(1)) }
            throw error
        }
    }

    public func count() throws -> Int {
        try withDatabase { db in Int(try db.query("SELECT count(*) FROM residents").first?.int(0) ?? 0) }
    }

    static let selectColumns = """
        resident_code, my_number, name, name_kana, address, birth_date, sex, status,
        name_norm, kana_norm, address_norm, updated_at
        """

    static func stored(_ row: Row) -> StoredResident {
        let sex = Sex(rawValue: Int(row.int(6) ?? 0)) ?? .male
        let resident = Resident(
            residentCode: row.string(0) ?? "", myNumber: row.string(1) ?? "", name: row.string(2) ?? "",
            nameKana: row.string(3), address: row.string(4) ?? "", birthDate: row.string(5) ?? "", sex: sex,
            status: ResidentStatus(rawValue: row.string(7) ?? "") ?? .alive)
        let normalised = NormalisedFacts(name: row.string(8) ?? "", nameKana: row.string(9),
                                         address: row.string(10) ?? "", birthDate: row.string(5) ?? "", sex: sex)
        return StoredResident(resident: resident, normalised: normalised,
                              updatedAt: Date(milliseconds: row.int(11) ?? 0))
    }

    public func resident(code: String) throws -> StoredResident? {
        try withDatabase { db in
            try db.query("SELECT \(Self.selectColumns) FROM residents WHERE resident_code = ?", [.text(code)])
                .first.map(Self.stored)
        }
    }

    public func resident(myNumber: String) throws -> StoredResident? {
        try withDatabase { db in
            try db.query("SELECT \(Self.selectColumns) FROM residents WHERE my_number = ?", [.text(myNumber)])
                .first.map(Self.stored)
        }
    }

    /// Every resident, living or not, whose normalised name, birth date and sex are these.
    public func residents(sharing facts: NormalisedFacts) throws -> [StoredResident] {
        try withDatabase { db in
            try db.query("""
                SELECT \(Self.selectColumns) FROM residents
                WHERE name_norm = ? AND birth_date = ? AND sex = ? ORDER BY resident_code
                """, [.text(facts.name), .text(facts.birthDate), .integer(Int64(facts.sex.rawValue))])
                .map(Self.stored)
        }
    }

    // MARK: changes

    /// Records a move, a new name or a death: updates the facts (and their comparison form) and
    /// appends to the change log, in one transaction. A deceased resident cannot change further.
    @discardableResult
    public func apply(_ change: ResidentChange, to residentCode: String, at now: Date = Date()) throws -> RecordedChange {
        try database.withLock { db in
            try db.transaction {
                guard let row = try db.query(
                    "SELECT \(Self.selectColumns) FROM residents WHERE resident_code = ?", [.text(residentCode)]).first
                else { throw RegistryError.unknownResident(residentCode) }
                let current = Self.stored(row)
                guard current.resident.status == .alive else { throw RegistryError.deceased(residentCode) }
                let ms = Int64(now.milliseconds)
                switch change {
                case let .moved(address):
                    let norm = normaliser.address(address)
                    guard !norm.isEmpty else { throw RegistryError.invalid(InvalidFact(field: "address", reason: "missing")) }
                    try db.query("UPDATE residents SET address = ?, address_norm = ?, updated_at = ? WHERE resident_code = ?",
                                 [.text(address), .text(norm), .integer(ms), .text(residentCode)])
                case let .renamed(name, kana):
                    let norm = normaliser.name(name)
                    guard !norm.isEmpty else { throw RegistryError.invalid(InvalidFact(field: "name", reason: "missing")) }
                    var kanaNorm: String?
                    if let kana, !kana.trimmingSpaces.isEmpty {
                        guard let k = normaliser.kana(kana), !k.isEmpty else {
                            throw RegistryError.invalid(InvalidFact(field: "name_kana", reason: "not kana"))
                        }
                        kanaNorm = k
                    }
                    try db.query("""
                        UPDATE residents SET name = ?, name_norm = ?, name_kana = ?, kana_norm = ?, updated_at = ?
                        WHERE resident_code = ?
                        """, [.text(name), .text(norm), kana.map(SQLiteValue.text) ?? .null,
                              kanaNorm.map(SQLiteValue.text) ?? .null, .integer(ms), .text(residentCode)])
                case .died:
                    try db.query("UPDATE residents SET status = 'deceased', updated_at = ? WHERE resident_code = ?",
                                 [.integer(ms), .text(residentCode)])
                    // Outstanding tickets for the dead are void.
                    try db.query("UPDATE matching_numbers SET used_at = ? WHERE resident_code = ? AND used_at IS NULL",
                                 [.integer(ms), .text(residentCode)])
                }
                try db.query("INSERT INTO resident_changes (resident_code, kind, changed_at) VALUES (?, ?, ?)",
                             [.text(residentCode), .text(change.kind), .integer(ms)])
                return RecordedChange(sequence: db.lastInsertRowID, residentCode: residentCode, kind: change.kind,
                                      at: Date(milliseconds: ms))
            }
        }
    }

    /// The change log after `sequence`, oldest first.
    public func changes(after sequence: Int64 = 0, limit: Int = 1000) throws -> [RecordedChange] {
        try withDatabase { db in
            try db.query("""
                SELECT sequence, resident_code, kind, changed_at FROM resident_changes
                WHERE sequence > ? ORDER BY sequence LIMIT ?
                """, [.integer(sequence), .integer(Int64(limit))]).map { row in
                RecordedChange(sequence: row.int(0) ?? 0, residentCode: row.string(1) ?? "", kind: row.string(2) ?? "",
                               at: Date(milliseconds: row.int(3) ?? 0))
            }
        }
    }

    // MARK: stats

    public func stats(now: Date = Date()) throws -> RegistryStats {
        try withDatabase { db in
            func int(_ sql: String, _ p: [SQLiteValue] = [], column: Int = 0) throws -> Int {
                Int(try db.query(sql, p).first?.int(column) ?? 0)
            }
            let ms = SQLiteValue.integer(now.milliseconds)
            let homonyms = try db.query("""
                SELECT count(*), coalesce(sum(n), 0) FROM (
                    SELECT count(*) AS n FROM residents WHERE status = 'alive'
                    GROUP BY name_norm, birth_date, sex HAVING n > 1)
                """).first
            let ambiguous = try db.query("""
                SELECT count(*), coalesce(sum(n), 0) FROM (
                    SELECT count(*) AS n FROM residents WHERE status = 'alive'
                    GROUP BY name_norm, birth_date, sex, address_norm HAVING n > 1)
                """).first
            return RegistryStats(
                residents: try int("SELECT count(*) FROM residents"),
                alive: try int("SELECT count(*) FROM residents WHERE status = 'alive'"),
                deceased: try int("SELECT count(*) FROM residents WHERE status = 'deceased'"),
                homonymGroups: Int(homonyms?.int(0) ?? 0),
                residentsInHomonymGroups: Int(homonyms?.int(1) ?? 0),
                ambiguousGroups: Int(ambiguous?.int(0) ?? 0),
                residentsInAmbiguousGroups: Int(ambiguous?.int(1) ?? 0),
                matchingNumbersOutstanding: try int(
                    "SELECT count(*) FROM matching_numbers WHERE used_at IS NULL AND expires_at > ?", [ms]),
                matchingNumbersUsed: try int("SELECT count(*) FROM matching_numbers WHERE used_at IS NOT NULL"),
                matchingNumbersExpired: try int(
                    "SELECT count(*) FROM matching_numbers WHERE used_at IS NULL AND expires_at <= ?", [ms]),
                changes: try int("SELECT count(*) FROM resident_changes"))
        }
    }

    /// Up to `count` living residents that their four basic facts match (no other living
    /// resident shares them), in resident-code order: sample callers for a registry made by
    /// `registry generate`, whose residents nobody else knows.
    public func sample(count: Int) throws -> [Resident] {
        try withDatabase { db in
            try db.query("""
                SELECT \(Self.selectColumns) FROM residents r WHERE r.status = 'alive' AND NOT EXISTS (
                    SELECT 1 FROM residents o WHERE o.status = 'alive' AND o.resident_code <> r.resident_code
                      AND o.name_norm = r.name_norm AND o.birth_date = r.birth_date AND o.sex = r.sex
                      AND o.address_norm = r.address_norm)
                ORDER BY r.resident_code LIMIT ?
                """, [.integer(Int64(count))]).map { Self.stored($0).resident }
        }
    }

    /// Homonym groups (living residents sharing normalised name, birth date and sex), largest
    /// first: for debugging and tests.
    public func homonymGroups(limit: Int = 10, sameAddress: Bool = false) throws -> [[String]] {
        let key = sameAddress ? "name_norm, birth_date, sex, address_norm" : "name_norm, birth_date, sex"
        return try withDatabase { db in
            try db.query("""
                SELECT group_concat(resident_code) FROM residents WHERE status = 'alive'
                GROUP BY \(key) HAVING count(*) > 1 ORDER BY count(*) DESC, min(resident_code) LIMIT ?
                """, [.integer(Int64(limit))]).map { ($0.string(0) ?? "").split(separator: ",").map(String.init).sorted() }
        }
    }
}

extension Date {
    var milliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }
    init(milliseconds: Int64) { self.init(timeIntervalSince1970: Double(milliseconds) / 1000) }
}
