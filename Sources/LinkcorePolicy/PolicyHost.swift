import Foundation
import LinkcoreWire
import Logging
import Synchronization

/// Holds the policy set in force and replaces it atomically. The daemon asks the host (it
/// conforms to the three policy protocols); each call reads the current set once, so a reload
/// takes effect between requests and never in the middle of one.
public final class PolicyHost: Sendable, WhitelistPolicy, FeePolicy, EventPolicy {
    private struct State {
        var current: PolicySet?
        var generation = 0
        var lastError: String?
        var lastLoadAt: Date?
    }

    private let state = Mutex(State())
    /// Serialises loads (SIGHUP and `linkctl policy reload` may race); never held by decide.
    private let loading = Mutex(())
    private let images = ImageCache()
    private let logger: Logger
    private let clock: @Sendable () -> Int64

    /// `clock` is what modules see through `now_ms` (tests move it); wall-clock time by default.
    public init(logger: Logger, clock: @escaping @Sendable () -> Int64 = PolicyHost.wallClockMs) {
        self.logger = logger
        self.clock = clock
        _ = PolicyInstruments.shared  // the metric series exist (at 0) before the first decision
    }

    /// The least a warm-up decision is waited for (more when the decision deadline is long).
    static let warmUpBound: Duration = .seconds(5)

    public static let wallClockMs: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }

    /// The set in force, or nil before the first successful load.
    public var current: PolicySet? { state.withLock { $0.current } }

    /// Loads every module of `spec` and initialises it with its configuration; only when all of
    /// them succeed does the new set replace the current one. On failure the current set stays in
    /// force and the error is kept for status. The replaced set is retired: its instances shut down
    /// once their last call returns, their code stays loaded.
    @discardableResult
    public func load(_ spec: PolicySpec) -> Result<PolicySet, PolicyLoadError> {
        loading.withLock { _ in
            let result = build(spec)
            switch result {
            case .success(let set):
                state.withLock { s in
                    s.current = set
                    s.lastError = nil
                    s.lastLoadAt = Date()
                }
                logger.info(
                    "policy set loaded",
                    metadata: ["generation": "\(set.generation)", "modules": "\(Self.describe(set))"])
            case .failure(let error):
                let kept = state.withLock { s -> Int? in
                    s.lastError = error.description
                    s.lastLoadAt = Date()
                    return s.current?.generation
                }
                logger.error(
                    "policy load failed; the previous set stays in force",
                    metadata: ["error": "\(error)", "kept-generation": "\(kept.map(String.init) ?? "none")"])
            }
            return result
        }
    }

    private func build(_ spec: PolicySpec) -> Result<PolicySet, PolicyLoadError> {
        for kind in [PolicyKind.fees, .events] where spec.modules.filter({ $0.kind == kind }).count > 1 {
            return .failure(PolicyLoadError(.invalidSet, path: "", "more than one \(kind) module configured"))
        }
        var modules: [PolicyModule] = []
        do throws(PolicyLoadError) {
            for entry in spec.modules {
                let image = try images.image(path: entry.path, kind: entry.kind)
                modules.append(
                    try PolicyModule(
                        image: image, configPath: entry.config, deadline: spec.deadline, workers: spec.workersPerModule,
                        logger: logger, clock: clock))
            }
        } catch {
            // Instances made before the failure are released here and shut down by their deinit.
            return .failure(error)
        }
        let generation = state.withLock { s in
            s.generation += 1
            return s.generation
        }
        let set = PolicySet(generation: generation, modules: modules)
        // Before the set goes into force (at start: before READY), so that the first real
        // decision is not a module's first call. A module that stays silent is still loaded: its
        // real calls fail closed at their deadline (retryable) as before, and the operator is told.
        let bound = max(spec.deadline * 20, Self.warmUpBound)
        for module in set.warm(atMs: clock(), within: bound) {
            logger.warning(
                "policy module did not answer its warm-up decision",
                metadata: ["module": "\(module.name)", "kind": "\(module.kind)", "waited-ms": "\(bound / .milliseconds(1))"])
        }
        return .success(set)
    }

    public func decide(_ query: LCWhitelistQuery) async -> Result<LCWhitelistDecision, PolicyError> {
        guard let set = current else { return .failure(.notConfigured(.whitelist)) }
        return await set.decide(query)
    }

    public func decide(_ query: LCFeeQuery) async -> Result<LCFeeDecision, PolicyError> {
        guard let set = current else { return .failure(.notConfigured(.fees)) }
        return await set.decide(query)
    }

    public func decide(_ query: LCEventRoutingQuery) async -> Result<LCEventRoutingDecision, PolicyError> {
        guard let set = current else { return .failure(.notConfigured(.events)) }
        return await set.decide(query)
    }

    /// Shared objects loaded so far. Retired ones stay mapped (never dlclose'd), so this only grows.
    public var loadedImages: Int { images.count }

    /// The error of the last load, nil when it succeeded.
    public var lastError: String? { state.withLock { $0.lastError } }

    /// For `Status.policy_status` and the systemd STATUS line.
    public var statusLine: String {
        let (set, error) = state.withLock { ($0.current, $0.lastError) }
        var line: String
        if let set {
            let overruns = set.modules.reduce(0) { $0 + $1.counters.overruns }
            let failures = set.modules.reduce(0) { $0 + $1.counters.failures }
            let warm = set.modules.filter(\.isWarm).count
            line = "policy generation \(set.generation): \(Self.describe(set)); \(failures) failures, \(overruns) overruns"
                + ", \(warm) of \(set.modules.count) modules warmed"
        } else {
            line = "no policy loaded"
        }
        if let error { line += "; last policy load FAILED: \(error)" }
        return line
    }

    static func describe(_ set: PolicySet) -> String {
        set.modules.map { "\($0.kind) \($0.name) \($0.version)" }.joined(separator: ", ")
    }
}
