import LinkcoreWire
import SwiftProtobuf

/// An immutable set of loaded modules: whitelist (a table plus optional filters), fees, events.
/// A reload builds a whole new set and swaps it in; a request keeps the set it started with.
public final class PolicySet: Sendable, WhitelistPolicy, FeePolicy, EventPolicy {
    /// Counts successful loads in this host, from 1.
    public let generation: Int
    /// In configured order; all must permit.
    public let whitelist: [PolicyModule]
    public let fees: PolicyModule?
    public let events: PolicyModule?

    init(generation: Int, modules: [PolicyModule]) {
        self.generation = generation
        whitelist = modules.filter { $0.kind == .whitelist }
        fees = modules.first { $0.kind == .fees }
        events = modules.first { $0.kind == .events }
    }

    public var modules: [PolicyModule] { whitelist + [fees, events].compactMap { $0 } }

    /// Whether this set decides `kind`: it has a module of that kind, or it is empty. An empty set
    /// is one that replaced a configured set (the operator removed every module): it decides
    /// everything, and every decision fails closed (`notConfigured`). Falling back instead would
    /// hand mediation to the built-in table (with its `*` rows) and make every operation free.
    public func governs(_ kind: PolicyKind) -> Bool {
        switch kind {
        case .whitelist: return !whitelist.isEmpty || modules.isEmpty
        case .fees: return fees != nil || modules.isEmpty
        case .events: return events != nil || modules.isEmpty
        }
    }

    /// Asks every whitelist module in order; the first refusal wins and is attributed to its
    /// module. A permit names the table's row (the first module's rule).
    public func decide(_ query: LCWhitelistQuery) async -> Result<LCWhitelistDecision, PolicyError> {
        PolicyInstruments.shared.observe(.whitelist, await uncounted(query))
    }

    private func uncounted(_ query: LCWhitelistQuery) async -> Result<LCWhitelistDecision, PolicyError> {
        guard !whitelist.isEmpty else { return .failure(.notConfigured(.whitelist)) }
        var permit: LCWhitelistDecision?
        for module in whitelist {
            let answer = await Self.ask(module, query, as: LCWhitelistDecision.self, validate: Self.validate)
            if let final = fold(answer, from: module, into: &permit) { return final }
        }
        return .success(permit ?? LCWhitelistDecision())
    }

    /// A failure or a refusal ends the chain; a permit is remembered (the first one names the row).
    private func fold(
        _ answer: Result<LCWhitelistDecision, PolicyError>, from module: PolicyModule, into permit: inout LCWhitelistDecision?
    ) -> Result<LCWhitelistDecision, PolicyError>? {
        switch answer {
        case .failure(let error):
            return .failure(error)
        case .success(let decision) where !decision.permitted:
            var refusal = decision
            if module !== whitelist[0] { refusal.reason = "\(module.name): \(decision.reason)" }
            return .success(refusal)
        case .success(let decision):
            if permit == nil { permit = decision }
            return nil
        }
    }

    public func decide(_ query: LCFeeQuery) async -> Result<LCFeeDecision, PolicyError> {
        PolicyInstruments.shared.observe(.fees, await uncounted(query))
    }

    private func uncounted(_ query: LCFeeQuery) async -> Result<LCFeeDecision, PolicyError> {
        guard let fees else { return .failure(.notConfigured(.fees)) }
        return await Self.ask(fees, query, as: LCFeeDecision.self, validate: Self.validate)
    }

    public func decide(_ query: LCEventRoutingQuery) async -> Result<LCEventRoutingDecision, PolicyError> {
        PolicyInstruments.shared.observe(.events, await uncounted(query))
    }

    private func uncounted(_ query: LCEventRoutingQuery) async -> Result<LCEventRoutingDecision, PolicyError> {
        guard let events else { return .failure(.notConfigured(.events)) }
        return await Self.ask(events, query, as: LCEventRoutingDecision.self, validate: Self.validate)
    }

    /// Warms every module with one decision of its kind (see ``PolicyModule/warm(_:within:)``),
    /// before the set goes into force. Returns the modules that did not answer in time.
    func warm(atMs: Int64, within bound: Duration) -> [PolicyModule] {
        let probe = LCOrgRef.with { $0.code = "LINKCORE-WARMUP"; $0.sector = .public; $0.role = .agency }
        return modules.filter { module in
            let query: any SwiftProtobuf.Message =
                switch module.kind {
                case .whitelist: LCWhitelistQuery.with { $0.bpID = "LINKCORE-WARMUP"; $0.requester = probe; $0.provider = probe; $0.infoType = "warmup"; $0.atMs = atMs }
                case .fees: LCFeeQuery.with { $0.operation = .mediation; $0.payer = probe; $0.bpID = "LINKCORE-WARMUP"; $0.atMs = atMs }
                case .events: LCEventRoutingQuery.with { $0.receiver = probe; $0.kind = .moved; $0.atMs = atMs }
                }
            guard let bytes = try? query.serializedBytes() as [UInt8] else { return true }
            return !module.warm(bytes, within: bound)
        }
    }

    /// Encodes, calls with the deadline, decodes and checks; any defect is a PolicyError.
    static func ask<Q: SwiftProtobuf.Message, D: SwiftProtobuf.Message>(
        _ module: PolicyModule, _ query: Q, as: D.Type, validate: (D) -> String?
    ) async -> Result<D, PolicyError> {
        let bytes: [UInt8]
        do { bytes = try query.serializedBytes() } catch {
            return .failure(.garbage(module: module.name, detail: "the query could not be encoded"))
        }
        return await module.call(bytes).flatMap { answer in decode(answer, from: module, validate: validate) }
    }

    static func decode<D: SwiftProtobuf.Message>(
        _ bytes: [UInt8], from module: PolicyModule, validate: (D) -> String?
    ) -> Result<D, PolicyError> {
        decision(bytes, validate: validate).mapError { problem in
            module.countGarbage()
            return .garbage(module: module.name, detail: problem.detail)
        }
    }

    /// The decoding and the checks alone, without a module (also the fuzzer's entry, PolicyDecisionCheck).
    static func decision<D: SwiftProtobuf.Message>(_ bytes: [UInt8], validate: (D) -> String?) -> Result<D, DecisionProblem> {
        let decision: D
        do { decision = try D(serializedBytes: bytes) } catch {
            return .failure(DecisionProblem(detail: "not a \(D.protoMessageName)"))
        }
        if let problem = validate(decision) { return .failure(DecisionProblem(detail: problem)) }
        return .success(decision)
    }

    // A decision must explain itself; one that does not is treated as garbage (fail closed).

    static func validate(_ d: LCWhitelistDecision) -> String? {
        if d.permitted && d.ruleID.isEmpty { return "a permit that names no rule" }
        if !d.permitted && d.reason.isEmpty { return "a refusal without a reason" }
        return nil
    }

    static func validate(_ d: LCFeeDecision) -> String? {
        if d.tariffID.isEmpty { return "a fee decision that names no tariff" }
        if d.amountYen < 0 { return "a negative fee" }
        if !d.chargeable && d.amountYen != 0 { return "an amount on a free operation" }
        return nil
    }

    static func validate(_ d: LCEventRoutingDecision) -> String? {
        switch d.delivery {
        case .none, .immediate, .dailyBatch: return nil
        default: return "delivery \(d.delivery.rawValue)"
        }
    }
}
