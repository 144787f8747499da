import LinkcoreConfig

/// The built-in whitelist's CSV form (`[mediation] whitelist`), read into the same table the
/// whitelist module runs:
///
///     rule_id,bp_id,requester,provider,info_types,valid_from,valid_to
///     R001,BP-TAX-01,CITY01,TAX01,income|residence_tax,2020-01-01,2099-12-31
///
/// `requester` is one organisation code or `*` (any requester); `provider` is one organisation
/// code; info types are separated by `|`; dates are days in Japan time (`Day`), both inclusive,
/// and may be empty (no bound). Lines starting with `#`, the header and blank lines are skipped.
/// Anything not permitted by a row is refused. An error names the file and line.
extension WhitelistTable {
    public init(csv text: String, file: String) throws(ConfigError) {
        var rules: [Rule] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.csvTrimmed(.whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("rule_id,") { continue }
            rules.append(try Self.csvRule(line, file: file, line: index + 1))
        }
        self.init(rules: rules, classes: OrgClasses(named: [:]))
    }

    private static func csvRule(_ text: String, file: String, line: Int) throws(ConfigError) -> Rule {
        func fail(_ why: String, kind: ConfigError.Kind = .invalidValue) -> ConfigError {
            ConfigError(kind: kind, file: file, line: line, message: why)
        }
        let fields = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.csvTrimmed(.whitespaces) }
        guard fields.count == 7 else { throw fail("expected 7 fields, got \(fields.count)") }
        guard !fields[0].isEmpty, !fields[1].isEmpty, !fields[2].isEmpty, !fields[3].isEmpty else {
            throw fail("rule_id, bp_id, requester and provider must not be empty", kind: .missingRequired)
        }
        let types = Set(fields[4].split(separator: "|").map { $0.csvTrimmed(.whitespaces) }.filter { !$0.isEmpty })
        guard !types.isEmpty else { throw fail("no information types", kind: .missingRequired) }
        func day(_ text: String, _ name: String) throws(ConfigError) -> Day? {
            guard !text.isEmpty else { return nil }
            switch Day.parse(text) {
            case .success(let day): return day
            case .failure(let why): throw fail("\(name): \(why.message)")
            }
        }
        let from = try day(fields[5], "valid_from"), to = try day(fields[6], "valid_to")
        if let from, let to, to < from { throw fail("valid_to: \(to) is before valid_from \(from)") }
        return Rule(id: fields[0], bpID: fields[1], task: "", requester: fields[2] == "*" ? .any : .code(fields[2]),
                    provider: .code(fields[3]), infoTypes: types, validFrom: from, validTo: to)
    }
}

extension StringProtocol {
    fileprivate func csvTrimmed(_ set: CSVTrim) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s.removeFirst() }
        while let c = s.last, set.contains(c) { s.removeLast() }
        return String(s)
    }
}

/// What the CSV reader trims around lines and fields (no Foundation in this target).
fileprivate enum CSVTrim {
    case whitespaces, whitespacesAndNewlines
    func contains(_ c: Character) -> Bool {
        switch self {
        case .whitespaces: return c == " " || c == "\t"
        case .whitespacesAndNewlines: return c.isWhitespace
        }
    }
}
