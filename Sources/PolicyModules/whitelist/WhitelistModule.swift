import CLinkcorePolicy
import LinkcoreConfig
import LinkcorePolicyModuleKit
import LinkcorePolicyTables
import LinkcoreWire

// The shipped whitelist module: the statutory table of etc/linkcore/whitelist.toml behind the
// policy ABI, loaded by linkcored exactly as a third party's module would be.

nonisolated(unsafe) private let table = ModuleTable.make(
    kind: LC_POLICY_KIND_WHITELIST, name: "whitelist", version: "1.0.0",
    initialize: { path, config, length, host, instance, error, capacity in
        ModuleKit.initialize(
            path, config, length, host, instance, error, capacity,
            query: LCWhitelistQuery.self, decision: LCWhitelistDecision.self
        ) { text, file, host throws(ConfigError) in
            let whitelist = try WhitelistTable(text: text, file: file)
            host.log(LC_POLICY_LOG_INFO, "\(whitelist.rules.count) rules from \(file)")
            return { query in
                guard !query.bpID.isEmpty, !query.requester.code.isEmpty, !query.provider.code.isEmpty,
                    !query.infoType.isEmpty
                else { return .failure(.invalidQuery) }
                var q = query
                if q.atMs == 0 { q.atMs = host.nowMs() }
                return .success(whitelist.decide(q))
            }
        }
    })

@_cdecl("linkcore_policy_module")
public func linkcorePolicyModule() -> UnsafeRawPointer { UnsafeRawPointer(table) }
