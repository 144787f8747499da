import Foundation
import LinkcoreSQLite

/// An RFC 4180 reader fed in chunks: comma-separated, fields optionally in double quotes
/// (`""` for a quote inside, commas and line breaks allowed inside), records ended by CRLF or LF.
/// Records are numbered from 1 (the header is record 1); a blank line counts as a record and is
/// reported with no fields.
struct CSVParser {
    enum State { case fieldStart, unquoted, quoted, quoteInQuoted }

    private var state = State.fieldStart
    private var field: [UInt8] = []
    private var fields: [String] = []
    private var problem: String?
    private var pendingCR = false
    private var sawAny = false
    private(set) var row = 1

    /// Feeds bytes; calls `emit(fields, row, problem)` for each complete record.
    mutating func feed(_ bytes: some Sequence<UInt8>, emit: ([String], Int, String?) throws -> Void) rethrows {
        for b in bytes {
            if pendingCR {
                pendingCR = false
                if b == 0x0A { continue }  // CRLF: the record already ended at CR
            }
            switch state {
            case .fieldStart, .unquoted:
                switch b {
                case 0x2C: endField()
                case 0x0D: pendingCR = true; try endRecord(emit)
                case 0x0A: try endRecord(emit)
                case 0x22 where state == .fieldStart: state = .quoted; sawAny = true
                case 0x22: problem = problem ?? "quote inside an unquoted field"; field.append(b)
                default: field.append(b); state = .unquoted; sawAny = true
                }
            case .quoted:
                if b == 0x22 { state = .quoteInQuoted } else { field.append(b) }
            case .quoteInQuoted:
                switch b {
                case 0x22: field.append(b); state = .quoted
                case 0x2C: endField()
                case 0x0D: pendingCR = true; try endRecord(emit)
                case 0x0A: try endRecord(emit)
                default: problem = problem ?? "characters after a closing quote"; field.append(b); state = .unquoted
                }
            }
        }
    }

    /// Ends the input: emits the last record if it had no line break.
    mutating func finish(emit: ([String], Int, String?) throws -> Void) rethrows {
        if state == .quoted { problem = problem ?? "unterminated quoted field" }
        if sawAny || !fields.isEmpty || !field.isEmpty || state != .fieldStart { try endRecord(emit) }
    }

    private mutating func endField() {
        if fields.isEmpty, row == 1, field.starts(with: [0xEF, 0xBB, 0xBF]) { field.removeFirst(3) }  // BOM
        if let text = String(validating: field, as: UTF8.self) {
            fields.append(text)
        } else {
            problem = problem ?? "invalid UTF-8"
            fields.append(String(decoding: field, as: UTF8.self))
        }
        field.removeAll(keepingCapacity: true)
        state = .fieldStart
        sawAny = true
    }

    private mutating func endRecord(_ emit: ([String], Int, String?) throws -> Void) rethrows {
        if sawAny || !fields.isEmpty { endField() }
        let record = fields
        let recordProblem = problem
        let number = row
        fields.removeAll(keepingCapacity: true)
        problem = nil
        sawAny = false
        state = .fieldStart
        row += 1
        try emit(record, number, recordProblem)
    }
}

/// One rejected row (or the header): `row 17, column my_number: check digit mismatch`.
public struct ImportIssue: Sendable, Equatable, CustomStringConvertible {
    public var row: Int
    public var column: String?
    public var reason: String

    public var description: String {
        "row \(row)" + (column.map { ", column \($0)" } ?? "") + ": \(reason)"
    }
}

struct RowIssues: Error {
    var issues: [ImportIssue]
}

public struct ImportSummary: Sendable, Equatable {
    public var imported = 0
    /// Rows with at least one issue (not imported).
    public var rejected = 0
    /// Strict mode stopped at the first issue and imported nothing.
    public var aborted = false

    public init(imported: Int = 0, rejected: Int = 0, aborted: Bool = false) {
        self.imported = imported
        self.rejected = rejected
        self.aborted = aborted
    }
}

public enum ImportError: Error, Sendable, Equatable, CustomStringConvertible {
    case header(String)

    public var description: String {
        switch self {
        case let .header(reason): "row 1 (header): \(reason)"
        }
    }
}

/// Loads residents from CSV into the registry: header `resident_code,my_number,name,name_kana,
/// address,birth_date,sex` (any order; optional `status` = alive/deceased). Every bad row is
/// reported with its row number and column; `strict` stops at the first and imports nothing.
public struct CSVImporter: Sendable {
    public let store: RegistryStore
    public var batchSize = 10_000

    public static let requiredColumns = ["resident_code", "my_number", "name", "name_kana", "address", "birth_date", "sex"]
    public static let optionalColumns = ["status"]

    public init(store: RegistryStore) {
        self.store = store
    }

    /// Imports a file, reading it in 1 MiB chunks. `progress(bytesRead, totalBytes)` after each.
    public func importFile(path: String, strict: Bool = false, now: Date = Date(),
                           onIssue: (ImportIssue) -> Void = { _ in },
                           progress: (Int, Int) -> Void = { _, _ in }) throws -> ImportSummary {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        defer { try? handle.close() }
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let total = (attributes?[.size] as? NSNumber)?.intValue ?? 0
        var read = 0
        return try run(strict: strict, now: now, onIssue: onIssue) {
            guard let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty else { return nil }
            read += chunk.count
            progress(read, total)
            return chunk
        }
    }

    /// Imports CSV text (tests, small inputs).
    public func importText(_ text: String, strict: Bool = false, now: Date = Date(),
                           onIssue: (ImportIssue) -> Void = { _ in }) throws -> ImportSummary {
        var data: Data? = Data(text.utf8)
        return try run(strict: strict, now: now, onIssue: onIssue) {
            defer { data = nil }
            return data
        }
    }

    private struct Abort: Error {}

    private func run(strict: Bool, now: Date, onIssue: (ImportIssue) -> Void,
                     nextChunk: () throws -> Data?) throws -> ImportSummary {
        let today = CalendarDate(dayNumber: Int((now.timeIntervalSince1970 / 86400).rounded(.down)))
        let batchSize = self.batchSize
        let store = self.store
        return try store.withDatabase { db in
            var summary = ImportSummary()
            var parser = CSVParser()
            var columns: [String: Int]?
            var width = 0
            var pending = 0  // rows inserted in the open transaction
            var inTransaction = false

            func reject(_ issues: [ImportIssue]) throws {
                summary.rejected += 1
                for issue in issues { onIssue(issue) }
                if strict { throw Abort() }
            }

            func handle(_ fields: [String], _ row: Int, _ problem: String?) throws {
                guard let index = columns else {
                    columns = try Self.columns(header: fields)
                    width = fields.count
                    return
                }
                if fields.isEmpty || (fields.count == 1 && fields[0].trimmingSpaces.isEmpty) { return }  // blank line
                if let problem { return try reject([ImportIssue(row: row, column: nil, reason: problem)]) }
                guard fields.count == width else {
                    return try reject([ImportIssue(row: row, column: nil,
                                                   reason: "expected \(width) fields, found \(fields.count)")])
                }
                let resident: Resident
                switch Self.resident(from: fields, columns: index, row: row, today: today, normaliser: store.normaliser) {
                case let .success(r): resident = r
                case let .failure(failure): return try reject(failure.issues)
                }
                if !inTransaction {
                    try db.execute("BEGIN IMMEDIATE")
                    inTransaction = true
                }
                do {
                    try RegistryStore.insert(resident, into: db, store: store, now: now)
                } catch let error as RegistryError {
                    switch error {
                    case .duplicateResidentCode:
                        return try reject([ImportIssue(row: row, column: "resident_code", reason: "duplicate resident code")])
                    case .duplicateMyNumber:
                        return try reject([ImportIssue(row: row, column: "my_number", reason: "duplicate my number")])
                    default:
                        return try reject([ImportIssue(row: row, column: nil, reason: error.description)])
                    }
                }
                summary.imported += 1
                pending += 1
                if !strict, pending >= batchSize {
                    try db.execute("COMMIT")
                    inTransaction = false
                    pending = 0
                }
            }

            do {
                while let data = try nextChunk() { try parser.feed(data, emit: handle) }
                try parser.finish(emit: handle)
                if columns == nil { throw ImportError.header("empty file: a header row is required") }
                if inTransaction { try db.execute("COMMIT") }
            } catch is Abort {
                if inTransaction { try db.execute("ROLLBACK") }
                summary.imported = 0
                summary.aborted = true
            } catch {
                if inTransaction { try? db.execute("ROLLBACK") }
                throw error
            }
            return summary
        }
    }

    /// The header row: each column's index by name.
    static func columns(header fields: [String]) throws(ImportError) -> [String: Int] {
        let names = fields.map { $0.trimmingSpaces.lowercased() }
        var map: [String: Int] = [:]
        for (i, name) in names.enumerated() {
            guard Self.requiredColumns.contains(name) || Self.optionalColumns.contains(name) else {
                throw ImportError.header("unknown column \"\(name)\"")
            }
            guard map[name] == nil else { throw ImportError.header("duplicate column \(name)") }
            map[name] = i
        }
        if let missing = Self.requiredColumns.first(where: { map[$0] == nil }) {
            throw ImportError.header("missing column \(missing)")
        }
        return map
    }

    /// Validates one row: every problem in it, or the resident.
    static func resident(from fields: [String], columns: [String: Int], row: Int, today: CalendarDate,
                         normaliser: FactsNormaliser) -> Result<Resident, RowIssues> {
        var issues: [ImportIssue] = []
        func value(_ column: String) -> String {
            columns[column].map { fields[$0].trimmingSpaces } ?? ""
        }
        func required(_ column: String) -> String? {
            let v = value(column)
            if v.isEmpty { issues.append(ImportIssue(row: row, column: column, reason: "missing field")); return nil }
            return v
        }
        func check(_ column: String, _ problem: String?) {
            if let problem { issues.append(ImportIssue(row: row, column: column, reason: problem)) }
        }
        let code = required("resident_code").map(FactsNormaliser.nfkc)
        if let code { check("resident_code", ResidentCode.problem(code)) }
        let number = required("my_number").map(FactsNormaliser.nfkc)
        if let number { check("my_number", MyNumber.problem(number)) }
        let name = required("name")
        if let name, normaliser.name(name).isEmpty { check("name", "missing field") }
        let kana = value("name_kana")
        if !kana.isEmpty, (normaliser.kana(kana) ?? "").isEmpty { check("name_kana", "not kana") }
        let address = required("address")
        if let address, normaliser.address(address).isEmpty { check("address", "missing field") }
        var birth: CalendarDate?
        if let raw = required("birth_date") {
            birth = normaliser.birthDate(raw)
            if let date = birth {
                if date > today { check("birth_date", "in the future") }
            } else {
                check("birth_date", "not a valid date")
            }
        }
        var sex: Sex?
        if let raw = required("sex") {
            sex = Sex(parsing: raw)
            if sex == nil { check("sex", "not one of 1, 2, M, F, 男, 女") }
        }
        var status = ResidentStatus.alive
        switch value("status").lowercased() {
        case "", "alive", "生存": status = .alive
        case "deceased", "死亡": status = .deceased
        default: check("status", "not alive or deceased")
        }
        guard issues.isEmpty, let code, let number, let name, let address, let birth, let sex else {
            return .failure(RowIssues(issues: issues))
        }
        return .success(Resident(residentCode: code, myNumber: number, name: name, nameKana: kana.isEmpty ? nil : kana,
                                 address: address, birthDate: birth.description, sex: sex, status: status))
    }
}
