import Foundation
import LinkcoreRegistry
import Testing

@Suite struct CSVImportTests {
    static let header = "resident_code,my_number,name,name_kana,address,birth_date,sex\n"

    static func line(_ code: String, number: String? = nil, name: String = "山田 太郎", kana: String = "ヤマダ タロウ",
                     address: String = "東京都新宿区本町1-2-3", birth: String = "1980-01-02", sex: String = "1") -> String {
        "\(code),\(number ?? MyNumberFixture.make(code)),\(name),\(kana),\(address),\(birth),\(sex)\n"
    }

    func run(_ text: String, strict: Bool = false) throws -> (TempRegistry, ImportSummary, [String]) {
        let registry = try TempRegistry()
        var issues: [String] = []
        let summary = try CSVImporter(store: registry.store).importText(text, strict: strict) { issues.append($0.description) }
        return (registry, summary, issues)
    }

    @Test func importsQuotedFieldsAndCRLF() throws {
        let text = Self.header.replacingOccurrences(of: "\n", with: "\r\n")
            + "00000000001,\(MyNumberFixture.make("00000000001")),\"山田, 太郎\",やまだ たろう,\"東京都新宿区本町1丁目2番3号 \"\"ハイツ\"\" 101号室\",昭和55年1月2日,男\r\n"
            + "\"00000000002\",\(MyNumberFixture.make("00000000002")),\"佐藤\n花子\",,大阪府大阪市北区梅田1-1-1,1990/03/04,F"
        let (registry, summary, issues) = try run(text)
        #expect(issues == [])
        #expect(summary == ImportSummary(imported: 2, rejected: 0, aborted: false))
        let r1 = try #require(try registry.store.resident(code: "00000000001"))
        #expect(r1.resident.name == "山田, 太郎")
        #expect(r1.resident.address == "東京都新宿区本町1丁目2番3号 \"ハイツ\" 101号室")
        #expect(r1.resident.birthDate == "1980-01-02")
        #expect(r1.normalised.nameKana == "ヤマダタロウ")
        let r2 = try #require(try registry.store.resident(code: "00000000002"))
        #expect(r2.resident.name == "佐藤\n花子")
        #expect(r2.resident.nameKana == nil)
        #expect(r2.resident.sex == .female)
    }

    @Test func reportsEachBadRowWithRowNumberAndColumn() throws {
        var text = Self.header
        text += Self.line("00000000001")                                      // row 2 ok
        text += Self.line("00000000002", number: "123456789012")              // row 3 check digit
        text += Self.line("00000000003", birth: "1980-02-30")                 // row 4 bad date
        text += Self.line("00000000001", number: MyNumberFixture.make("00000000009"))  // row 5 duplicate code
        text += Self.line("00000000004", name: "")                            // row 6 missing name
        text += "00000000005,1,2\n"                                           // row 7 field count
        text += Self.line("0000000006", sex: "x")                             // row 8 three problems
        text += Self.line("00000000007", number: MyNumberFixture.make("00000000002"))  // row 9 ok
        text += Self.line("00000000008", number: MyNumberFixture.make("00000000002"))  // row 10 duplicate my number
        text += Self.line("00000000010", kana: "Yamada")                      // row 11 not kana
        text += Self.line("00000000011", birth: "2999-01-01")                 // row 12 future
        let (registry, summary, issues) = try run(text)
        #expect(issues == [
            "row 3, column my_number: check digit mismatch",
            "row 4, column birth_date: not a valid date",
            "row 5, column resident_code: duplicate resident code",
            "row 6, column name: missing field",
            "row 7: expected 7 fields, found 3",
            "row 8, column resident_code: must be 11 digits",
            "row 8, column my_number: must be 12 digits",
            "row 8, column sex: not one of 1, 2, M, F, 男, 女",
            "row 10, column my_number: duplicate my number",
            "row 11, column name_kana: not kana",
            "row 12, column birth_date: in the future",
        ])
        #expect(summary == ImportSummary(imported: 2, rejected: 9, aborted: false))
        #expect(try registry.store.count() == 2)
    }

    @Test func strictModeImportsNothingOnError() throws {
        var text = Self.header
        for i in 1...50 { text += Self.line(String(format: "%011d", i)) }
        text += Self.line("00000000099", number: "123456789012")  // row 52
        text += Self.line("00000000100")
        let (registry, summary, issues) = try run(text, strict: true)
        #expect(issues == ["row 52, column my_number: check digit mismatch"])
        #expect(summary.aborted)
        #expect(summary.imported == 0)
        #expect(try registry.store.count() == 0)
        // The same file without --strict imports the good rows.
        let importer = CSVImporter(store: registry.store)
        let again = try importer.importText(text)
        #expect(again == ImportSummary(imported: 51, rejected: 1, aborted: false))
    }

    @Test func commitsInBatchesAndReadsFiles() throws {
        let registry = try TempRegistry()
        var generator = RegistryGenerator(seed: 4)
        var text = "name,sex,birth_date,address,name_kana,my_number,resident_code,status\n"  // any column order
        let residents = generator.batch(2500).map(\.resident)
        func quoted(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        for r in residents {
            text += [quoted(r.name), String(r.sex.rawValue), r.birthDate, quoted(r.address), r.nameKana ?? "", r.myNumber,
                     r.residentCode, r.status.rawValue].joined(separator: ",") + "\n"
        }
        let path = registry.directory + "/in.csv"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        var importer = CSVImporter(store: registry.store)
        importer.batchSize = 1000
        var lastProgress = 0
        let summary = try importer.importFile(path: path, progress: { read, _ in lastProgress = read })
        #expect(summary == ImportSummary(imported: 2500, rejected: 0, aborted: false))
        #expect(lastProgress == text.utf8.count)
        #expect(try registry.store.resident(code: residents[1234].residentCode)?.resident == residents[1234])
    }

    @Test func headerProblemsAreFatal() throws {
        #expect(throws: ImportError.header("missing column sex")) {
            try run("resident_code,my_number,name,name_kana,address,birth_date\n")
        }
        #expect(throws: ImportError.header("unknown column \"colour\"")) {
            try run("resident_code,my_number,name,name_kana,address,birth_date,sex,colour\n")
        }
        #expect(throws: ImportError.header("empty file: a header row is required")) { try run("") }
    }

    @Test func malformedQuotingIsARowError() throws {
        let text = Self.header + "00000000001,\(MyNumberFixture.make("00000000001")),\"山田\"x,ヤマダ,本町1,1980-01-01,1\n"
            + "00000000002,\(MyNumberFixture.make("00000000002")),\"unterminated,ヤマダ,本町1,1980-01-01,1\n"
        let (_, summary, issues) = try run(text)
        #expect(issues == ["row 2: characters after a closing quote", "row 3: unterminated quoted field"])
        #expect(summary.rejected == 2)
    }
}
