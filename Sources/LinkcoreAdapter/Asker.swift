import Foundation
import LinkcoreClient
import LinkcoreWire
import Synchronization

/// Requester A's side: sends mediations for a list of its own link codes, several at a time,
/// and reports one outcome per request plus a summary (the test and benchmark client).
public struct Asker: Sendable {
    public struct Plan: Sendable {
        public var bpID: String
        public var provider: String
        public var infoType: String
        public var linkCodes: [String]
        public var count: Int
        public var concurrency: Int
        public var deadlineMs: UInt32 = 0
        public var query = Data("query".utf8)
        public init(bpID: String, provider: String, infoType: String, linkCodes: [String], count: Int, concurrency: Int) {
            self.bpID = bpID; self.provider = provider; self.infoType = infoType
            self.linkCodes = linkCodes; self.count = count; self.concurrency = concurrency
        }
    }

    /// One request's outcome, printed as a JSON line.
    public struct Outcome: Codable, Sendable {
        public var i: Int
        public var linkCode: String
        public var outcome: String          // "answered" or "error"
        public var answer: String?
        public var mediationID: String?
        public var code: Int?               // ErrorCode number
        public var providerCode: String?
        public var latencyUs: Int
    }

    public struct Summary: Codable, Sendable {
        public var count: Int
        public var answered: Int
        public var errors: [String: Int]    // ErrorCode number -> count
        public var seconds: Double
        public var perSecond: Double
        public var p50Us: Int
        public var p99Us: Int
    }

    public let plan: Plan
    public init(plan: Plan) { self.plan = plan }

    /// Runs the plan over `connections` (each holds at most its Welcome's in-flight limit).
    public func run(on connections: [LinkcoreConnection], each: @escaping @Sendable (Outcome) -> Void) async -> Summary {
        let next = Counter()
        let start = ContinuousClock.now
        let outcomes = await withTaskGroup(of: [Outcome].self) { group in
            for worker in 0..<max(1, plan.concurrency) {
                let connection = connections[worker % connections.count]
                group.addTask {
                    var mine: [Outcome] = []
                    while true {
                        let i = next.take()
                        guard i < plan.count, !plan.linkCodes.isEmpty else { return mine }
                        let outcome = await ask(i, on: connection)
                        each(outcome)
                        mine.append(outcome)
                    }
                }
            }
            var all: [Outcome] = []
            for await part in group { all += part }
            return all
        }
        let took = (ContinuousClock.now - start).components
        let seconds = Double(took.seconds) + Double(took.attoseconds) / 1e18
        let latencies = outcomes.map(\.latencyUs).sorted()
        func percentile(_ p: Double) -> Int { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        var errors: [String: Int] = [:]
        for o in outcomes { if let code = o.code { errors[String(code), default: 0] += 1 } }
        return Summary(count: outcomes.count, answered: outcomes.filter { $0.outcome == "answered" }.count, errors: errors,
                       seconds: seconds, perSecond: seconds > 0 ? Double(outcomes.count) / seconds : 0,
                       p50Us: percentile(0.5), p99Us: percentile(0.99))
    }

    func ask(_ i: Int, on connection: LinkcoreConnection) async -> Outcome {
        let code = plan.linkCodes[i % plan.linkCodes.count]
        var request = LCMediateRequest()
        request.bpID = plan.bpID
        request.providerOrg = plan.provider
        request.linkCode = code
        request.infoType = plan.infoType
        request.query = plan.query
        request.deadlineMs = plan.deadlineMs
        let started = ContinuousClock.now
        var outcome = Outcome(i: i, linkCode: code, outcome: "error", latencyUs: 0)
        do {
            // The core answers by A's deadline; wait a little longer than that for its reply.
            let reply = try await connection.request(.mediate(request), timeout: .seconds(Int64(plan.deadlineMs / 1000) + 60))
            if case let .mediateResponse(response)? = reply {
                outcome.outcome = "answered"
                outcome.answer = String(decoding: response.answer, as: UTF8.self)
                outcome.mediationID = response.mediationID
            } else {
                outcome.code = Int(LCErrorCode.internal.rawValue)
            }
        } catch let error as WireError {
            outcome.code = Int(error.code.rawValue)
            outcome.providerCode = error.providerCode.isEmpty ? nil : error.providerCode
        } catch {
            outcome.code = Int(LCErrorCode.unavailable.rawValue)
        }
        let elapsed = (ContinuousClock.now - started).components
        outcome.latencyUs = Int(elapsed.seconds * 1_000_000 + elapsed.attoseconds / 1_000_000_000_000)
        return outcome
    }

    /// JSON lines with snake_case keys, the form `linkcore-adapter ask` prints.
    public static func jsonLine(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// Hands out request numbers to the workers.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func take() -> Int { value.add(1, ordering: .relaxed).oldValue }
}
