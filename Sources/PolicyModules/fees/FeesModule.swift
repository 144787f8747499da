import CLinkcorePolicy
import LinkcoreConfig
import LinkcorePolicyModuleKit
import LinkcorePolicyTables
import LinkcoreWire

// The shipped fees module: the tariff of etc/linkcore/fees.toml behind the policy ABI.

nonisolated(unsafe) private let table = ModuleTable.make(
    kind: LC_POLICY_KIND_FEES, name: "fees", version: "1.0.0",
    initialize: { path, config, length, host, instance, error, capacity in
        ModuleKit.initialize(
            path, config, length, host, instance, error, capacity,
            query: LCFeeQuery.self, decision: LCFeeDecision.self
        ) { text, file, host throws(ConfigError) in
            let tariff = try FeeTariff(text: text, file: file)
            host.log(LC_POLICY_LOG_INFO, "\(tariff.rows.count) tariff rows from \(file)")
            return { query in
                guard query.operation != .unspecified, !query.payer.code.isEmpty else { return .failure(.invalidQuery) }
                var q = query
                if q.atMs == 0 { q.atMs = host.nowMs() }
                return .success(tariff.decide(q))
            }
        }
    })

@_cdecl("linkcore_policy_module")
public func linkcorePolicyModule() -> UnsafeRawPointer { UnsafeRawPointer(table) }
