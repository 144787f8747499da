import CLinkcorePolicy

/// What a module decides. Raw values are `lc_policy_kind` of linkcore_policy.h.
public enum PolicyKind: UInt32, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    case whitelist = 1
    case fees = 2
    case events = 3

    /// As written in the configuration: "whitelist", "fees", "events".
    public var description: String {
        switch self {
        case .whitelist: return "whitelist"
        case .fees: return "fees"
        case .events: return "events"
        }
    }

    public init?(name: String) {
        guard let kind = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = kind
    }
}
