import ArgumentParser
import Foundation
import LinkcoreWire

/// `linkctl fees statement`: an organisation's monthly statement, summed from the fee ledger.
struct FeesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fees", abstract: "Fee accounting.", subcommands: [Statement.self])

    enum Format: String, ExpressibleByArgument, CaseIterable { case csv, json }

    struct Statement: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print an organisation's statement for a month (Japan time).")
        @OptionGroup var admin: AdminSocketOptions
        @Option(help: "Organisation code.") var org: String
        @Option(help: "The month, YYYY-MM.") var period: String
        @Option(help: "csv or json.") var format: Format = .csv

        func run() async throws {
            let request = LCFeesStatementRequest.with { $0.orgCode = org; $0.period = period }
            guard case let .feesStatementResponse(statement)? = try await admin.request(.feesStatement(request)) else {
                throw ValidationError("unexpected reply")
            }
            switch format {
            case .json:
                print(try Self.json(statement))
            case .csv:
                print(Self.csv(statement), terminator: "")
            }
        }

        /// Every field present, zeros included, amounts as integers: for accounting systems.
        static func json(_ s: LCFeesStatement) throws -> String {
            let object: [String: Any] = [
                "org_code": s.orgCode, "org_name": s.orgName, "period": s.period, "currency": "JPY",
                "total_yen": s.totalYen, "ledger_entries": s.ledgerEntries,
                "lines": s.lines.map { line -> [String: Any] in
                    ["operation": line.operation, "tariff_id": line.tariffID, "unit_price_yen": line.unitPriceYen,
                     "count": line.count, "amount_yen": line.amountYen]
                },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            return String(decoding: data, as: UTF8.self)
        }

        /// One line per ledger group, then the total; amounts are whole yen.
        static func csv(_ s: LCFeesStatement) -> String {
            var out = "org_code,org_name,period,operation,tariff_id,unit_price_yen,count,amount_yen\n"
            func field(_ text: String) -> String {
                text.contains(where: { ",\"\n".contains($0) }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
            }
            for line in s.lines {
                out += [s.orgCode, field(s.orgName), s.period, line.operation, field(line.tariffID), "\(line.unitPriceYen)",
                        "\(line.count)", "\(line.amountYen)"].joined(separator: ",") + "\n"
            }
            out += [s.orgCode, field(s.orgName), s.period, "total", "", "", "\(s.ledgerEntries)", "\(s.totalYen)"].joined(separator: ",") + "\n"
            return out
        }
    }
}
