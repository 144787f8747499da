import ArgumentParser
import Foundation
import LinkcoreRegistry

/// `linkcore-matcher registry …`: the resident registry file (its own SQLite database).
struct RegistryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry",
        abstract: "Create, load and inspect the resident registry.",
        subcommands: [Generate.self, Import.self, Stats.self, Show.self, Sample.self, Match.self, Change.self]
    )
}

private func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("linkcore-matcher: \(message)\n".utf8))
    exit(1)
}

private func fileSize(_ path: String) -> Int {
    let files = [path, path + "-wal"]
    return files.reduce(0) { total, file in
        let attributes = try? FileManager.default.attributesOfItem(atPath: file)
        return total + ((attributes?[.size] as? NSNumber)?.intValue ?? 0)
    }
}

private func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1_000_000) }

extension RegistryCommand {
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fill a new registry with synthetic residents (deterministic for a seed).",
            discussion: "Nobody knows these residents: `registry sample` prints some that a match_request can find.")

        @Option(help: "Registry database file (created if missing; must hold no residents).")
        var db: String
        @Option(help: "Number of residents.")
        var count: Int
        @Option(help: "Seed: the same seed gives the same residents.")
        var seed: UInt64 = 1
        @Option(help: "Rows per transaction.")
        var batch = 10_000

        func validate() throws {
            guard count > 0 else { throw ValidationError("--count must be positive") }
            guard batch > 0 else { throw ValidationError("--batch must be positive") }
        }

        func run() throws {
            let store = try RegistryStore(path: db)
            let existing = try store.count()
            guard existing == 0 else { fail("\(db) already holds \(existing) residents: generate into a new file") }
            var progress = ProgressBar(label: "generate", total: count)
            let start = Date()
            try store.generate(seed: seed, count: count, batchSize: batch) { progress.update($0) }
            progress.finish()
            let seconds = Date().timeIntervalSince(start)
            print("generated \(count) residents (seed \(seed)) in \(String(format: "%.1f", seconds)) s, "
                + "\(Int(Double(count) / max(seconds, 0.001))) rows/s; \(db): \(megabytes(fileSize(db)))")
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load residents from CSV (header: resident_code,my_number,name,name_kana,address,birth_date,sex).",
            discussion: """
                RFC 4180 CSV, UTF-8. Optional column: status (alive/deceased). resident_code is 11 digits; \
                my_number is 12 digits whose last is a valid check digit. Each rejected row is reported \
                on stderr as "row N, column C: reason" (the header is row 1). Without --strict, bad rows are \
                skipped and the exit status is 1 if any were rejected; with --strict the first bad row aborts \
                the import and nothing is imported.
                """)

        @Option(help: "Registry database file (created if missing).")
        var db: String
        @Option(help: "CSV file to import.")
        var csv: String
        @Flag(help: "Stop at the first bad row and import nothing.")
        var strict = false

        func run() throws {
            guard FileManager.default.fileExists(atPath: csv) else { fail("no such file: \(csv)") }
            let store = try RegistryStore(path: db)
            let importer = CSVImporter(store: store)
            var progress = ProgressBar(label: "import", total: max(fileSize(csv), 1), unit: "bytes")
            let interactive = isatty(STDERR_FILENO) != 0
            let summary: ImportSummary
            do {
                summary = try importer.importFile(path: csv, strict: strict, onIssue: { issue in
                    FileHandle.standardError.write(Data(((interactive ? "\r\u{1B}[K" : "") + issue.description + "\n").utf8))
                }, progress: { read, _ in progress.update(read) })
            } catch let error as ImportError {
                progress.finish()
                fail(error.description)
            }
            progress.finish()
            if summary.aborted {
                print("aborted (--strict): nothing imported, first rejected row reported above")
                throw ExitCode(1)
            }
            print("imported \(summary.imported), rejected \(summary.rejected)")
            if summary.rejected > 0 { throw ExitCode(1) }
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Counts, homonym groups, matching numbers.")

        @Option(help: "Registry database file.")
        var db: String

        func run() throws {
            guard FileManager.default.fileExists(atPath: db) else { fail("no such file: \(db)") }
            let store = try RegistryStore(path: db)
            let s = try store.stats()
            print("""
                residents            \(s.residents) (alive \(s.alive), deceased \(s.deceased))
                homonym groups       \(s.homonymGroups) groups, \(s.residentsInHomonymGroups) residents \
                (same name, birth date, sex; told apart by address)
                ambiguous groups     \(s.ambiguousGroups) groups, \(s.residentsInAmbiguousGroups) residents \
                (same four facts: never match)
                matching numbers     \(s.matchingNumbersOutstanding) outstanding, \(s.matchingNumbersUsed) used, \
                \(s.matchingNumbersExpired) expired unused
                changes recorded     \(s.changes)
                file                 \(megabytes(fileSize(db)))
                """)
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one resident, as recorded and normalised.")

        @Option(help: "Registry database file.")
        var db: String
        @Option(help: "Resident code (11 digits).")
        var resident: String

        func run() throws {
            guard FileManager.default.fileExists(atPath: db) else { fail("no such file: \(db)") }
            let store = try RegistryStore(path: db)
            guard let r = try store.resident(code: resident) else { fail("no resident \(resident)") }
            let homonyms = try store.residents(sharing: r.normalised).filter { $0.resident.residentCode != resident }
            print("""
                resident code   \(r.resident.residentCode)
                my number       \(r.resident.myNumber)
                name            \(r.resident.name)    [\(r.normalised.name)]
                name kana       \(r.resident.nameKana ?? "-")    [\(r.normalised.nameKana ?? "-")]
                address         \(r.resident.address)
                                [\(r.normalised.address)]
                birth date      \(r.resident.birthDate)
                sex             \(r.resident.sex)
                status          \(r.resident.status.rawValue)
                updated         \(r.updatedAt)
                homonyms        \(homonyms.isEmpty ? "none" : homonyms.map {
                    $0.resident.residentCode + ($0.normalised.address == r.normalised.address ? " (same address)" : "")
                }.joined(separator: ", "))
                """)
        }
    }

    struct Sample: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a few living residents that their four facts match, to test a network with a generated registry.",
            discussion: """
                One line per resident, tab-separated: resident_code, my_number, name, name_kana, address, \
                birth_date, sex (M/F) — the four basic facts and the My Number a caller sends in a \
                match_request. Only residents no other living resident shares the four facts with are listed.
                """)

        @Option(help: "Registry database file.")
        var db: String
        @Option(help: "Number of residents to print.")
        var count = 5

        func validate() throws {
            guard (1...1000).contains(count) else { throw ValidationError("--count must be between 1 and 1000") }
        }

        func run() throws {
            guard FileManager.default.fileExists(atPath: db) else { fail("no such file: \(db)") }
            let store = try RegistryStore(path: db)
            for r in try store.sample(count: count) {
                print([r.residentCode, r.myNumber, r.name, r.nameKana ?? "", r.address, r.birthDate, r.sex == .male ? "M" : "F"]
                    .joined(separator: "\t"))
            }
        }
    }

    struct Match: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Match four facts (or a My Number) and issue a matching number (debugging).")

        @Option(help: "Registry database file.")
        var db: String
        @Option var name: String?
        @Option var kana: String?
        @Option var address: String?
        @Option(name: .customLong("birth-date")) var birthDate: String?
        @Option(help: "1/2, M/F, 男/女.") var sex: String?
        @Option(name: .customLong("my-number")) var myNumber: String?
        @Option var org = "DEBUG"
        @Option var consent = "debug"

        func run() throws {
            guard FileManager.default.fileExists(atPath: db) else { fail("no such file: \(db)") }
            let matcher = Matcher(store: try RegistryStore(path: db))
            let result: Result<MatchTicket, MatchFailure>
            if let myNumber {
                result = try matcher.match(myNumber: myNumber, orgCode: org, consentRef: consent)
            } else {
                guard let name, let address, let birthDate, let sexText = sex else {
                    throw ValidationError("give --my-number, or --name, --address, --birth-date and --sex")
                }
                guard let sex = Sex(parsing: sexText) else { throw ValidationError("--sex: not 1, 2, M, F, 男 or 女") }
                result = try matcher.match(
                    facts: Facts(name: name, nameKana: kana, address: address, birthDate: birthDate, sex: sex),
                    orgCode: org, consentRef: consent)
            }
            switch result {
            case let .success(ticket):
                print("matched \(ticket.residentCode); matching number \(ticket.matchingNumber), expires \(ticket.expiresAt)")
            case let .failure(failure):
                print(failure.description)
                throw ExitCode(1)
            }
        }
    }
}
