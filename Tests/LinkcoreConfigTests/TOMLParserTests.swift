import Testing

@testable import LinkcoreConfig

private func parse(_ text: String) throws -> TOMLTable {
    try TOMLParser().parse(text, file: "t.toml")
}

private func parseError(_ text: String) -> ConfigError? {
    do {
        _ = try TOMLParser().parse(text, file: "t.toml")
        return nil
    } catch {
        return error
    }
}

@Suite struct TOMLParserTests {
    @Test func tablesKeysAndComments() throws {
        let doc = try parse(
            """
            # leading comment
            title = "x" # trailing comment

            [a]
            b = 1
            [a.c]
            d = true
            ["quoted key"]
            'lit.key' = 2
            "" = 3
            [ x . y ]
            z = 4
            """)
        #expect(doc["title"] == .string("x"))
        #expect(doc["a"]?.tableValue?["b"] == .integer(1))
        #expect(doc["a"]?.tableValue?["c"]?.tableValue?["d"] == .boolean(true))
        #expect(doc["quoted key"]?.tableValue?["lit.key"] == .integer(2))
        #expect(doc["quoted key"]?.tableValue?[""] == .integer(3))
        #expect(doc["x"]?.tableValue?["y"]?.tableValue?["z"] == .integer(4))
        #expect(doc.keys == ["title", "a", "quoted key", "x"])
        #expect(doc.item("a")?.position.line == 4)
        #expect(doc["a"]?.tableValue?.item("b")?.position == TOMLPosition(line: 5, column: 1))
    }

    @Test func dottedKeysAndImplicitTables() throws {
        let doc = try parse(
            """
            fruit.apple.color = "red"
            fruit.apple.taste.sweet = true
            [fruit.apple.texture]
            smooth = true
            [x.y.z]
            [x]
            w = 1
            """)
        let apple = doc["fruit"]?.tableValue?["apple"]?.tableValue
        #expect(apple?["color"] == .string("red"))
        #expect(apple?["taste"]?.tableValue?["sweet"] == .boolean(true))
        #expect(apple?["texture"]?.tableValue?["smooth"] == .boolean(true))
        #expect(doc["x"]?.tableValue?["w"] == .integer(1))
    }

    @Test func arrayOfTables() throws {
        let doc = try parse(
            """
            [[fruits]]
            name = "apple"
            [fruits.physical]
            color = "red"
            [[fruits.varieties]]
            name = "red delicious"
            [[fruits.varieties]]
            name = "granny smith"
            [[fruits]]
            name = "banana"
            """)
        guard let fruits = doc["fruits"]?.arrayValue else {
            Issue.record("no array")
            return
        }
        #expect(fruits.count == 2)
        let apple = fruits[0].value.tableValue
        #expect(apple?["physical"]?.tableValue?["color"] == .string("red"))
        #expect(apple?["varieties"]?.arrayValue?.count == 2)
        #expect(fruits[1].value.tableValue?["name"] == .string("banana"))
        #expect(fruits[1].position.line == 9)
    }

    @Test func strings() throws {
        let doc = try parse(
            #"""
            a = "tab\there \"q\" back\\slash \u00E9 \U0001F600 nl\n"
            b = 'C:\Users\no\escapes'
            c = """
            first
              second\
                 continued \
                 here
            ends with ""quotes"""""
            d = '''
            raw \n 'single' ''ok'''
            e = "日本語"
            f = """"one quote inside""""
            """#)
        #expect(doc["a"] == .string("tab\there \"q\" back\\slash é 😀 nl\n"))
        #expect(doc["b"] == .string(#"C:\Users\no\escapes"#))
        #expect(doc["c"] == .string("first\n  secondcontinued here\nends with \"\"quotes\"\""))
        #expect(doc["d"] == .string("raw \\n 'single' ''ok"))
        #expect(doc["e"] == .string("日本語"))
        #expect(doc["f"] == .string("\"one quote inside\""))
    }

    @Test func numbersAndBooleans() throws {
        let doc = try parse(
            """
            i1 = 42
            i2 = +17
            i3 = -5
            i4 = 1_000_000
            i5 = 0
            i6 = -0
            i7 = 0xDEAD_beef
            i8 = 0o755
            i9 = 0b1101
            i10 = 9223372036854775807
            i11 = -9223372036854775808
            f1 = 3.14
            f2 = -0.01
            f3 = 5e+22
            f4 = 6.626e-34
            f5 = 1E6
            f6 = inf
            f7 = -inf
            f8 = nan
            f9 = 224_617.445_991
            t = true
            u = false
            """)
        #expect(doc["i1"] == .integer(42))
        #expect(doc["i2"] == .integer(17))
        #expect(doc["i3"] == .integer(-5))
        #expect(doc["i4"] == .integer(1_000_000))
        #expect(doc["i5"] == .integer(0))
        #expect(doc["i6"] == .integer(0))
        #expect(doc["i7"] == .integer(0xDEAD_BEEF))
        #expect(doc["i8"] == .integer(0o755))
        #expect(doc["i9"] == .integer(13))
        #expect(doc["i10"] == .integer(Int64.max))
        #expect(doc["i11"] == .integer(Int64.min))
        #expect(doc["f1"] == .float(3.14))
        #expect(doc["f2"] == .float(-0.01))
        #expect(doc["f3"] == .float(5e22))
        #expect(doc["f4"] == .float(6.626e-34))
        #expect(doc["f5"] == .float(1e6))
        #expect(doc["f6"] == .float(.infinity))
        #expect(doc["f7"] == .float(-.infinity))
        if case .float(let n)? = doc["f8"] { #expect(n.isNaN) } else { Issue.record("nan") }
        #expect(doc["f9"] == .float(224_617.445_991))
        #expect(doc["t"] == .boolean(true))
        #expect(doc["u"] == .boolean(false))
    }

    @Test func arraysAndInlineTables() throws {
        let doc = try parse(
            """
            a = [ 1, 2, 3 ]
            b = [
              "x", # comment inside
              "y",

              "z",   # trailing comma is fine
            ]
            c = [ [1, 2], ["a", 'b'], [] ]
            d = { x = 1, y.z = "w", "q k" = [true] }
            e = {}
            f = [ { n = 1 }, { n = 2 } ]
            """)
        #expect(doc["a"]?.arrayValue?.map(\.value) == [.integer(1), .integer(2), .integer(3)])
        let b = doc["b"]?.arrayValue
        #expect(b?.map(\.value) == [.string("x"), .string("y"), .string("z")])
        #expect(b?.map(\.position.line) == [3, 4, 6])
        #expect(doc["c"]?.arrayValue?.count == 3)
        let d = doc["d"]?.tableValue
        #expect(d?["x"] == .integer(1))
        #expect(d?["y"]?.tableValue?["z"] == .string("w"))
        #expect(d?["q k"]?.arrayValue?.first?.value == .boolean(true))
        #expect(doc["e"]?.tableValue?.isEmpty == true)
        #expect(doc["f"]?.arrayValue?.last?.value.tableValue?["n"] == .integer(2))
    }

    @Test func crlfLineEndings() throws {
        let doc = try parse("[a]\r\nb = 1\r\nc = \"\"\"\r\nx\r\ny\"\"\"\r\n")
        #expect(doc["a"]?.tableValue?["b"] == .integer(1))
        #expect(doc["a"]?.tableValue?["c"] == .string("x\ny"))
    }

    // MARK: Errors (all syntax errors carry line and column)

    @Test(arguments: [
        ("a = ", 1, 5, "expected a value"),
        ("a = 1\nb = \n", 2, 5, "expected a value after '='"),
        ("a 1", 1, 3, "expected '=' after key a"),
        ("a = 1 b = 2", 1, 7, "expected a new line after the value"),
        ("a = \"open", 1, 10, "unterminated string (opened at 1:5)"),
        ("a = \"line\nbreak\"", 1, 10, "unterminated string"),
        ("a = \"bad \\x\"", 1, 10, "invalid escape sequence '\\x'"),
        ("a = \"\\u12\"", 1, 6, "needs exactly 4 hex digits"),
        ("a = \"\\uD800\"", 1, 6, "not a Unicode scalar value"),
        ("a = hello", 1, 5, "expected a value, found 'hello' (strings must be quoted)"),
        ("a = truex", 1, 5, "expected a value, found 'truex'"),
        ("a = 012", 1, 5, "leading zeros are not allowed"),
        ("a = 1__0", 1, 5, "'_' must be between two digits"),
        ("a = _1", 1, 5, "expected a value, found '_1'"),
        ("a = 1_", 1, 5, "'_' must be between two digits"),
        ("a = 9223372036854775808", 1, 5, "out of range for a 64-bit integer"),
        ("a = 1.", 1, 5, "a decimal point must be followed by digits"),
        ("a = .5", 1, 5, "expected a value"),
        ("a = +0x10", 1, 5, "a sign is not allowed"),
        ("a = 0x", 1, 5, "missing digits"),
        ("a = 1979-05-27", 1, 5, "date and time values are not supported"),
        ("a = 07:32:00", 1, 5, "date and time values are not supported"),
        ("a = [1, 2", 1, 10, "unterminated array"),
        ("a = [1 2]", 1, 8, "expected ',' or ']' in array"),
        ("a = { b = 1, }", 1, 14, "trailing comma is not allowed"),
        ("a = { b = 1,\n c = 2 }", 1, 13, "inline tables must be on one line"),
        ("[a", 1, 3, "expected ']' to close the table header"),
        ("[[a]", 1, 5, "expected ']]' to close the array-of-tables header"),
        ("[]", 1, 2, "expected a key"),
        ("a. = 1", 1, 4, "expected a key after '.'"),
        ("a = 1 # bell \u{07}", 1, 14, "control characters are not allowed in comments"),
        ("a = \"\u{01}\"", 1, 6, "control character U+0001 must be escaped"),
        ("a = 1\rb = 2", 1, 6, "carriage return must be followed by a line feed"),
        ("k = \"日本\" x", 1, 10, "expected a new line after the value, found 'x'"),
    ])
    func syntaxErrors(text: String, line: Int, column: Int, message: String) {
        guard let error = parseError(text) else {
            Issue.record("no error for \(text.debugDescription)")
            return
        }
        #expect(error.kind == .syntax, "\(error)")
        #expect(error.line == line && error.column == column, "\(error)")
        #expect(error.message.contains(message), "\(error)")
        #expect(error.description.hasPrefix("t.toml:\(line):\(column): "), "\(error)")
    }

    @Test(arguments: [
        ("a = 1\na = 2", 2, "duplicate key a (first defined at line 1)"),
        ("[t]\nx = 1\n[u]\n[t]\ny = 2", 4, "duplicate table [t] (first defined at line 1)"),
        ("[t]\n\"x\" = 1\n'x' = 2", 3, "duplicate key t.x (first defined at line 2)"),
        ("a.b = 1\na.b.c = 2", 2, "cannot use a.b as a table: it is already an integer"),
        ("a = {b = 1}\na.c = 2", 2, "inline table, which cannot be extended"),
        ("a = {b = 1}\n[a.c]", 2, "cannot use a as a table"),
        ("a = {b = 1}\n[a]", 2, "cannot define table [a]"),
        ("a.b = 1\n[a]", 2, "it was already defined by dotted keys"),
        ("[a.b.c]\n[a]\nb.d = 1", 3, "cannot add keys to table [a.b] with dotted keys"),
        ("a = [1]\n[[a]]", 2, "cannot define [[a]]"),
        ("[a]\n[[a]]", 2, "[a] is already a table"),
        ("[[a]]\n[a]", 2, "it is already an array of tables"),
        ("x = { y = 1, y = 2 }", 1, "duplicate key y"),
    ])
    func duplicateDefinitions(text: String, line: Int, message: String) {
        guard let error = parseError(text) else {
            Issue.record("no error for \(text.debugDescription)")
            return
        }
        #expect(error.kind == .duplicateKey, "\(error)")
        #expect(error.line == line, "\(error)")
        #expect(error.message.contains(message), "\(error)")
    }

    @Test func invalidUTF8IsReportedWithItsLine() {
        var bytes = Array("a = 1\nb = \"".utf8)
        bytes.append(0xFF)
        bytes.append(contentsOf: Array("\"\n".utf8))
        do {
            _ = try TOMLParser().parse(bytes: bytes, file: "t.toml")
            Issue.record("accepted invalid UTF-8")
        } catch {
            #expect(error.line == 2 && error.column == 6, "\(error)")
            #expect(error.message.contains("invalid UTF-8"))
        }
    }

    @Test func emptyDocumentIsAnEmptyTable() throws {
        #expect(try parse("").isEmpty)
        #expect(try parse("\n# only a comment\n\n").isEmpty)
    }
}
