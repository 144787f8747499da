import CLinkcorePolicy
import LinkcoreConfig
import LinkcorePolicyModuleKit
import LinkcorePolicyTables
import LinkcoreWire

// The shipped events module: the routes of etc/linkcore/events.toml behind the policy ABI.

nonisolated(unsafe) private let table = ModuleTable.make(
    kind: LC_POLICY_KIND_EVENTS, name: "events", version: "1.0.0",
    initialize: { path, config, length, host, instance, error, capacity in
        ModuleKit.initialize(
            path, config, length, host, instance, error, capacity,
            query: LCEventRoutingQuery.self, decision: LCEventRoutingDecision.self
        ) { text, file, host throws(ConfigError) in
            let routes = try EventRoutes(text: text, file: file)
            host.log(LC_POLICY_LOG_INFO, "\(routes.routes.count) routes from \(file)")
            return { query in
                guard !query.receiver.code.isEmpty else { return .failure(.invalidQuery) }
                return .success(routes.decide(query))
            }
        }
    })

@_cdecl("linkcore_policy_module")
public func linkcorePolicyModule() -> UnsafeRawPointer { UnsafeRawPointer(table) }
