import Foundation
import LinkcoreShapes
import LinkcoreStore
import Synchronization

/// The registered organisations, cached in memory so that admitting a connection never waits
/// on the store; every change goes through here and the store first.
public final class OrgDirectory: Sendable {
    let store: any CoreStore
    let cache = Mutex<[String: Organisation]>([:])

    public init(store: any CoreStore) async throws {
        self.store = store
        let all = try await store.organisations()
        cache.withLock { c in for org in all { c[org.code] = org } }
    }

    public subscript(code: String) -> Organisation? { cache.withLock { $0[code] } }
    public var all: [Organisation] { cache.withLock { $0.values.sorted { $0.code < $1.code } } }

    /// Whether an organisation with a valid certificate may open a session, and in which role.
    public func admit(_ code: String) -> Result<OrgRole, Refusal> {
        guard let org = self[code] else {
            return .failure(Refusal(.orgUnknown, "organisation \(code) is not registered with this core"))
        }
        guard !org.suspended else {
            return .failure(Refusal(.orgSuspended, "organisation \(code) is suspended"))
        }
        return .success(org.role)
    }

    public func add(_ new: NewOrganisation, nowMs: Int64) async -> Result<Organisation, Refusal> {
        guard IdentifierShape.orgCode.matches(new.code) else {
            return .failure(Refusal(.invalidArgument, "organisation code \"\(new.code)\" must match [A-Z0-9][A-Z0-9_-]{1,31}"))
        }
        guard !new.name.trimmingCharacters(in: .whitespaces).isEmpty else {
            return .failure(Refusal(.invalidArgument, "an organisation needs a name"))
        }
        guard let sector = new.sector else {
            return .failure(Refusal(.invalidArgument, "sector must be public or private"))
        }
        guard let role = new.role else {
            return .failure(Refusal(.invalidArgument, "role must be agency, private-connector, matcher, portal or card-authority"))
        }
        if sector == .privateSector && role != .privateConnector {
            return .failure(Refusal(.invalidArgument, "a private-sector organisation must have the private-connector role"))
        }
        if role == .privateConnector && sector != .privateSector {
            return .failure(Refusal(.invalidArgument, "the private-connector role is for private-sector organisations"))
        }
        let org = Organisation(code: new.code, name: new.name, sector: sector, role: role, createdAtMs: nowMs, licensedVerifier: new.licensedVerifier)
        do {
            try await store.addOrganisation(org)
        } catch StoreError.duplicate {
            return .failure(Refusal(.invalidArgument, "organisation \(new.code) is already registered"))
        } catch {
            return .failure(Refusal(.unavailable, "store: \(error)"))
        }
        cache.withLock { $0[org.code] = org }
        return .success(org)
    }

    public func setSuspended(_ code: String, _ suspended: Bool) async -> Result<Organisation, Refusal> {
        do {
            let org = try await store.setSuspended(code, suspended)
            cache.withLock { $0[code] = org }
            return .success(org)
        } catch StoreError.notFound {
            return .failure(Refusal(.orgUnknown, "organisation \(code) is not registered"))
        } catch {
            return .failure(Refusal(.unavailable, "store: \(error)"))
        }
    }

    /// Grants or withdraws the licence as a verifier; the card authority learns it from `org_show`
    /// (it caches answers briefly, so a withdrawal reaches it within its cache period).
    public func setLicensedVerifier(_ code: String, _ licensed: Bool) async -> Result<Organisation, Refusal> {
        do {
            let org = try await store.setLicensedVerifier(code, licensed)
            cache.withLock { $0[code] = org }
            return .success(org)
        } catch StoreError.notFound {
            return .failure(Refusal(.orgUnknown, "organisation \(code) is not registered"))
        } catch {
            return .failure(Refusal(.unavailable, "store: \(error)"))
        }
    }

    public func rotateKey(_ code: String) async -> Result<UInt16, Refusal> {
        do {
            let index = try await store.rotateKey(code)
            cache.withLock { $0[code]?.keyIndex = index }
            return .success(index)
        } catch StoreError.notFound {
            return .failure(Refusal(.orgUnknown, "organisation \(code) is not registered"))
        } catch {
            return .failure(Refusal(.unavailable, "store: \(error)"))
        }
    }
}
