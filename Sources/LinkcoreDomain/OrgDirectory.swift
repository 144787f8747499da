import Foundation
import LinkcoreShapes
import LinkcoreStore
import LinkcoreWire
import Synchronization

/// The registered organisations, cached in memory so that admitting a connection never waits
/// on the store; every change goes through here and the store first.
public final class OrgDirectory: Sendable {
    private let store: any CoreStore
    private let cache = Mutex<[String: Organisation]>([:])

    public init(store: any CoreStore) async throws {
        self.store = store
        let all = try await store.organisations()
        cache.withLock { c in for org in all { c[org.code] = org } }
    }

    public subscript(code: String) -> Organisation? { cache.withLock { $0[code] } }
    public var all: [Organisation] { cache.withLock { $0.values.sorted { $0.code < $1.code } } }

    /// Whether an organisation with a valid certificate may open a session, and in which role.
    public func admit(_ code: String) -> Result<LCRole, WireError> {
        guard let org = self[code] else {
            return .failure(WireError(.orgUnknown, "organisation \(code) is not registered with this core"))
        }
        guard !org.suspended else {
            return .failure(WireError(.orgSuspended, "organisation \(code) is suspended"))
        }
        return .success(org.role.proto)
    }

    public func add(_ proto: LCOrganisation, nowMs: Int64) async -> Result<Organisation, WireError> {
        guard IdentifierShape.orgCode.matches(proto.code) else {
            return .failure(WireError(.invalidArgument, "organisation code \"\(proto.code)\" must match [A-Z0-9][A-Z0-9_-]{1,31}"))
        }
        guard !proto.name.trimmingCharacters(in: .whitespaces).isEmpty else {
            return .failure(WireError(.invalidArgument, "an organisation needs a name"))
        }
        guard let sector = OrgSector(proto.sector) else {
            return .failure(WireError(.invalidArgument, "sector must be public or private"))
        }
        guard let role = OrgRole(proto.role) else {
            return .failure(WireError(.invalidArgument, "role must be agency, private-connector, matcher or portal"))
        }
        if sector == .privateSector && role != .privateConnector {
            return .failure(WireError(.invalidArgument, "a private-sector organisation must have the private-connector role"))
        }
        if role == .privateConnector && sector != .privateSector {
            return .failure(WireError(.invalidArgument, "the private-connector role is for private-sector organisations"))
        }
        let org = Organisation(code: proto.code, name: proto.name, sector: sector, role: role, createdAtMs: nowMs)
        do {
            try await store.addOrganisation(org)
        } catch StoreError.duplicate {
            return .failure(WireError(.invalidArgument, "organisation \(proto.code) is already registered"))
        } catch {
            return .failure(WireError(.unavailable, "store: \(error)"))
        }
        cache.withLock { $0[org.code] = org }
        return .success(org)
    }

    public func setSuspended(_ code: String, _ suspended: Bool) async -> Result<Organisation, WireError> {
        do {
            let org = try await store.setSuspended(code, suspended)
            cache.withLock { $0[code] = org }
            return .success(org)
        } catch StoreError.notFound {
            return .failure(WireError(.orgUnknown, "organisation \(code) is not registered"))
        } catch {
            return .failure(WireError(.unavailable, "store: \(error)"))
        }
    }

    public func rotateKey(_ code: String) async -> Result<UInt16, WireError> {
        do {
            let index = try await store.rotateKey(code)
            cache.withLock { $0[code]?.keyIndex = index }
            return .success(index)
        } catch StoreError.notFound {
            return .failure(WireError(.orgUnknown, "organisation \(code) is not registered"))
        } catch {
            return .failure(WireError(.unavailable, "store: \(error)"))
        }
    }
}

extension OrgRole {
    public init?(_ role: LCRole) {
        switch role {
        case .agency: self = .agency
        case .privateConnector: self = .privateConnector
        case .matcher: self = .matcher
        case .portal: self = .portal
        default: return nil
        }
    }

    public var proto: LCRole {
        switch self {
        case .agency: return .agency
        case .privateConnector: return .privateConnector
        case .matcher: return .matcher
        case .portal: return .portal
        }
    }
}

extension OrgSector {
    public init?(_ sector: LCSector) {
        switch sector {
        case .public: self = .publicBody
        case .private: self = .privateSector
        default: return nil
        }
    }

    public var proto: LCSector { self == .publicBody ? .public : .private }
}

extension Organisation {
    public var proto: LCOrganisation {
        var o = LCOrganisation()
        o.code = code
        o.name = name
        o.sector = sector.proto
        o.role = role.proto
        o.suspended = suspended
        o.keyIndex = UInt32(keyIndex)
        o.createdAtMs = createdAtMs
        return o
    }
}
