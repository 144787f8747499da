import LinkcoreConfig
import LinkcoreWire

/// Beneficiary-pays accounting (受益者負担): a price per operation, by sector or payer, from an
/// effective date. A later row for the same operation and payers supersedes an earlier one.
/// Public bodies pay nothing unless a row names them and `public_free` is turned off.
public struct FeeTariff: Sendable {
    public struct Row: Sendable {
        public let id: String
        public let operation: LCOperation
        public let payer: OrgSelector
        public let effectiveFrom: Day
        public let amountYen: Int64
    }

    public let publicFree: Bool
    public let rows: [Row]
    private let classes: OrgClasses

    static let operations: [String: LCOperation] = [
        "mediation": .mediation, "link_issuance": .linkIssuance, "event_delivery": .eventDelivery,
    ]

    public init(text: String, file: String) throws(ConfigError) {
        let f = try TableFile(text: text, file: file)
        try f.checkKeys(f.root, allowed: ["public_free", "classes", "tariff"], where: "")
        publicFree = try f.boolean(f.root, "public_free", row: "") ?? true
        classes = try f.classes()
        var rows: [Row] = []
        for (t, line) in try f.rows("tariff") {
            let row = "[[tariff]] (line \(line))"
            try f.checkKeys(t, allowed: ["id", "operation", "payer", "effective_from", "amount_yen"], where: row)
            let opName = try f.string(t, "operation", row: row)
            guard let operation = Self.operations[opName] else {
                throw f.error(line, "\(row) operation", "expected \"mediation\", \"link_issuance\" or \"event_delivery\", got \"\(opName)\"")
            }
            guard let from = try f.day(t, "effective_from", row: row) else {
                throw ConfigError(kind: .missingRequired, file: file, line: line, keyPath: "\(row) effective_from", message: "missing required key")
            }
            rows.append(
                Row(
                    id: try f.string(t, "id", row: row), operation: operation,
                    payer: try f.selector(t, "payer", row: row, classes: classes), effectiveFrom: from,
                    amountYen: try f.integer(t, "amount_yen", row: row, range: 0...1_000_000_000)))
        }
        self.rows = rows
    }

    /// The most specific payer selector wins (code over class over `*`); among those, the row
    /// with the latest effective date not after the operation.
    public func decide(_ q: LCFeeQuery) -> LCFeeDecision {
        var d = LCFeeDecision()
        if publicFree && q.payer.sector == .public {
            d.tariffID = "public-free"
            return d
        }
        let best = rows.filter { $0.operation == q.operation && $0.effectiveFrom.startMs <= q.atMs && $0.payer.matches(q.payer, classes) }
            .max { a, b in
                (a.payer.specificity, a.effectiveFrom) < (b.payer.specificity, b.effectiveFrom)
            }
        guard let row = best else {
            d.tariffID = "no-tariff"
            return d
        }
        d.tariffID = row.id
        d.amountYen = row.amountYen
        d.chargeable = row.amountYen > 0
        return d
    }
}
