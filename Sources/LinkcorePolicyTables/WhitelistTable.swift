import LinkcoreConfig
import LinkcoreWire

/// The statutory table of permitted exchanges (別表第2-style): each row lets requesters of one
/// kind ask providers of one kind for some information types under one BP-ID, between two dates.
/// Deny by default; every decision names the row that allowed it or says why not.
///
/// The one whitelist engine: the shipped module runs it behind the policy ABI, and the daemon runs
/// it in process for the built-in CSV table (`[mediation] whitelist`, read by `init(csv:file:)`),
/// so a row takes effect at the same instant, 00:00 Japan time, whichever path decides.
public struct WhitelistTable: Sendable {
    public struct Rule: Sendable {
        public let id: String
        public let bpID: String
        /// The statute or task, for humans reading the table and the decision log.
        public let task: String
        public let requester: OrgSelector
        public let provider: OrgSelector
        public let infoTypes: Set<String>
        /// First day the row applies; nil: no lower bound (only the CSV table may leave it out).
        public let validFrom: Day?
        /// Last day the row applies (inclusive); nil: open-ended.
        public let validTo: Day?

        func inForce(at ms: Int64) -> Bool {
            (validFrom.map { ms >= $0.startMs } ?? true) && (validTo.map { ms < $0.endMs } ?? true)
        }
    }

    public let rules: [Rule]
    private let byBP: [String: [Rule]]
    private let classes: OrgClasses

    init(rules: [Rule], classes: OrgClasses) {
        self.rules = rules
        self.classes = classes
        byBP = Dictionary(grouping: rules, by: \.bpID)
    }

    /// The TOML table the module is configured with (etc/linkcore/whitelist.toml).
    public init(text: String, file: String) throws(ConfigError) {
        let f = try TableFile(text: text, file: file)
        try f.checkKeys(f.root, allowed: ["classes", "rule"], where: "")
        let classes = try f.classes()
        var rules: [Rule] = []
        var seen: Set<String> = []
        for (t, line) in try f.rows("rule") {
            let row = "[[rule]] (line \(line))"
            try f.checkKeys(
                t, allowed: ["id", "bp_id", "task", "requester", "provider", "info_types", "valid_from", "valid_to"],
                where: row)
            let id = try f.string(t, "id", row: row)
            guard seen.insert(id).inserted else { throw f.error(line, "\(row) id", "rule id \"\(id)\" is used twice") }
            guard let from = try f.day(t, "valid_from", row: row) else {
                throw ConfigError(kind: .missingRequired, file: file, line: line, keyPath: "\(row) valid_from", message: "missing required key")
            }
            let to = try f.day(t, "valid_to", row: row)
            if let to, to < from { throw f.error(line, "\(row) valid_to", "\(to) is before valid_from \(from)") }
            rules.append(
                Rule(
                    id: id, bpID: try f.string(t, "bp_id", row: row), task: try f.string(t, "task", row: row, default: ""),
                    requester: try f.selector(t, "requester", row: row, classes: classes),
                    provider: try f.selector(t, "provider", row: row, classes: classes),
                    infoTypes: Set(try f.strings(t, "info_types", row: row)), validFrom: from, validTo: to))
        }
        self.init(rules: rules, classes: classes)
    }

    /// The first row in force that covers the exchange permits it; otherwise the refusal says
    /// what was missing, nearest miss first (a row out of its dates, then an unknown BP-ID).
    public func decide(_ q: LCWhitelistQuery) -> LCWhitelistDecision {
        var d = LCWhitelistDecision()
        guard let candidates = byBP[q.bpID] else {
            d.reason = "unknown BP-ID \(q.bpID)"
            return d
        }
        var outOfDates: Rule?
        for rule in candidates
        where rule.infoTypes.contains(q.infoType) && rule.requester.matches(q.requester, classes)
            && rule.provider.matches(q.provider, classes)
        {
            if rule.inForce(at: q.atMs) {
                d.permitted = true
                d.ruleID = rule.id
                return d
            }
            outOfDates = outOfDates ?? rule
        }
        if let rule = outOfDates {
            d.reason = rule.validFrom.map { q.atMs < $0.startMs } == true
                ? "rule \(rule.id) is not in force before \(rule.validFrom.map(\.description) ?? "?")"
                : "rule \(rule.id) expired after \(rule.validTo.map(\.description) ?? "?")"
        } else {
            d.reason = "no rule of \(q.bpID) lets \(q.requester.code) ask \(q.provider.code) for \(q.infoType)"
        }
        return d
    }
}
