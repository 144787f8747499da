import LinkcoreDomain
import LinkcoreStore
import LinkcoreWire

// Organisations, their roles and sectors as the wire spells them, both ways.

extension OrgRole {
    /// nil for `.unspecified` and roles this core does not know.
    init?(wire: LCRole) {
        switch wire {
        case .agency: self = .agency
        case .privateConnector: self = .privateConnector
        case .matcher: self = .matcher
        case .portal: self = .portal
        case .cardAuthority: self = .cardAuthority
        default: return nil
        }
    }

    var wire: LCRole {
        switch self {
        case .agency: return .agency
        case .privateConnector: return .privateConnector
        case .matcher: return .matcher
        case .portal: return .portal
        case .cardAuthority: return .cardAuthority
        }
    }
}

extension OrgSector {
    /// nil for `.unspecified` and sectors this core does not know.
    init?(wire: LCSector) {
        switch wire {
        case .public: self = .publicBody
        case .private: self = .privateSector
        default: return nil
        }
    }

    var wire: LCSector {
        switch self {
        case .publicBody: return .public
        case .privateSector: return .private
        }
    }
}

extension Organisation {
    var wire: LCOrganisation {
        .with {
            $0.code = code
            $0.name = name
            $0.sector = sector.wire
            $0.role = role.wire
            $0.suspended = suspended
            $0.keyIndex = UInt32(keyIndex)
            $0.createdAtMs = createdAtMs
            $0.licensedVerifier = licensedVerifier
        }
    }
}

extension NewOrganisation {
    init(wire: LCOrganisation) {
        self.init(code: wire.code, name: wire.name, sector: OrgSector(wire: wire.sector), role: OrgRole(wire: wire.role),
                  licensedVerifier: wire.licensedVerifier)
    }
}

extension OrgRef {
    var wire: LCOrgRef { .with { $0.code = code; $0.sector = sector.wire; $0.role = role.wire } }
}
