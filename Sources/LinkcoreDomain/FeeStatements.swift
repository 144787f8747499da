import Foundation
import LinkcoreStore

/// Monthly fee statements (受益者負担) read from the ledger. A statement is the ledger summed,
/// never a separate figure: its total is by construction what the ledger holds for the period.
public struct FeeStatements: Sendable {
    let store: any CoreStore
    let orgs: OrgDirectory

    public init(store: any CoreStore, orgs: OrgDirectory) {
        self.store = store
        self.orgs = orgs
    }

    /// Billing months follow the calendar in Japan (UTC+9, no daylight saving time).
    static let japan = TimeZone(secondsFromGMT: 9 * 3600) ?? .gmt

    /// "2026-11" → [start, end) in Unix epoch milliseconds, or nil when malformed.
    public static func period(_ text: String) -> (fromMs: Int64, toMs: Int64)? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), (1...12).contains(month), year >= 2000 else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = japan
        guard let start = calendar.date(from: DateComponents(year: year, month: month, day: 1)),
              let end = calendar.date(byAdding: .month, value: 1, to: start) else { return nil }
        return (Int64(start.timeIntervalSince1970 * 1000), Int64(end.timeIntervalSince1970 * 1000))
    }

    public func statement(orgCode: String, period: String) async -> Result<FeeStatement, Refusal> {
        guard let org = orgs[orgCode] else {
            return .failure(Refusal(.orgUnknown, "organisation \(orgCode) is not registered"))
        }
        guard let (from, to) = Self.period(period) else {
            return .failure(Refusal(.invalidArgument, "period must be YYYY-MM, e.g. 2026-11 (got \"\(period)\")"))
        }
        do {
            let (lines, entries) = try await store.feeLines(payer: org.code, fromMs: from, toMs: to)
            return .success(FeeStatement(orgCode: org.code, orgName: org.name, period: period, lines: lines,
                                         totalYen: lines.reduce(0) { $0 + $1.amountYen }, ledgerEntries: entries))
        } catch {
            return .failure(Refusal(.unavailable, "cannot read the fee ledger: \(error)"))
        }
    }
}
