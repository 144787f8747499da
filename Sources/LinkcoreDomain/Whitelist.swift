import Foundation
import LinkcoreWire
import Synchronization

/// Decides whether a business process permits a requester to ask a provider for an information
/// type (the statutory table of permitted exchanges, 別表第2). The mediator asks only this
/// interface, so a loadable policy module can replace the built-in table without changing callers.
/// A failure means the policy could not decide: the core then fails closed (POLICY_FAILURE).
public protocol Whitelist: Sendable {
    func decide(_ query: LCWhitelistQuery) async -> Result<LCWhitelistDecision, WireError>
}

/// The built-in table, read from a CSV file until policy modules take over:
///
///     rule_id,bp_id,requester,provider,info_types,valid_from,valid_to
///     R001,BP-TAX-01,CITY01,TAX01,income|residence_tax,2020-01-01,2099-12-31
///
/// `requester` may be `*` (any requester); info types are separated by `|`; dates are UTC days,
/// both inclusive, and may be empty (no bound). Lines starting with `#` and blank lines are
/// skipped. Anything not permitted by a row is refused.
public struct BuiltinWhitelist: Whitelist {
    public struct Rule: Sendable, Equatable {
        public var id: String
        public var bpID: String
        public var requester: String?   // nil: any requester
        public var provider: String
        public var infoTypes: Set<String>
        public var validFromMs: Int64
        public var validToMs: Int64     // exclusive
    }

    public let rules: [Rule]

    public init(rules: [Rule]) { self.rules = rules }

    public func decide(_ query: LCWhitelistQuery) async -> Result<LCWhitelistDecision, WireError> {
        var decision = LCWhitelistDecision()
        if let rule = rules.first(where: { $0.permits(query) }) {
            decision.permitted = true
            decision.ruleID = rule.id
        } else {
            decision.reason = "no rule permits \(query.requester.code) to ask \(query.provider.code) for \(query.infoType) under \(query.bpID)"
        }
        return .success(decision)
    }

    /// Reads the table; an error names the line.
    public static func load(path: String) throws -> BuiltinWhitelist {
        try parse(String(contentsOfFile: path, encoding: .utf8), source: path)
    }

    public static func parse(_ text: String, source: String = "whitelist") throws -> BuiltinWhitelist {
        var rules: [Rule] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("rule_id,") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            func fail(_ why: String) -> WhitelistError { WhitelistError(message: "\(source):\(index + 1): \(why)") }
            guard fields.count == 7 else { throw fail("expected 7 fields, got \(fields.count)") }
            guard !fields[0].isEmpty, !fields[1].isEmpty, !fields[2].isEmpty, !fields[3].isEmpty else {
                throw fail("rule_id, bp_id, requester and provider must not be empty")
            }
            let types = Set(fields[4].split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
            guard !types.isEmpty else { throw fail("no information types") }
            guard let from = day(fields[5], ifEmpty: Int64.min), let to = day(fields[6], ifEmpty: Int64.max - 86_400_000) else {
                throw fail("dates must be YYYY-MM-DD")
            }
            rules.append(Rule(id: fields[0], bpID: fields[1], requester: fields[2] == "*" ? nil : fields[2], provider: fields[3],
                              infoTypes: types, validFromMs: from, validToMs: to + 86_400_000))
        }
        return BuiltinWhitelist(rules: rules)
    }

    /// Midnight UTC of a YYYY-MM-DD day, in Unix ms.
    static func day(_ text: String, ifEmpty: Int64) -> Int64? {
        if text.isEmpty { return ifEmpty }
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, (1...12).contains(parts[1]), (1...31).contains(parts[2]) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        guard let date = calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])) else { return nil }
        return Int64(date.timeIntervalSince1970 * 1000)
    }
}

extension BuiltinWhitelist.Rule {
    func permits(_ q: LCWhitelistQuery) -> Bool {
        bpID == q.bpID && provider == q.provider.code && (requester == nil || requester == q.requester.code)
            && infoTypes.contains(q.infoType) && q.atMs >= validFromMs && q.atMs < validToMs
    }
}

public struct WhitelistError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The whitelist in force, replaced as a whole on reload (SIGHUP): a decision in progress
/// finishes with the table it started with.
public final class CurrentWhitelist: Whitelist {
    private let current: Mutex<any Whitelist>

    public init(_ initial: any Whitelist) { current = Mutex(initial) }

    public func replace(with whitelist: any Whitelist) { current.withLock { $0 = whitelist } }

    public func decide(_ query: LCWhitelistQuery) async -> Result<LCWhitelistDecision, WireError> {
        await current.withLock { $0 }.decide(query)
    }
}
