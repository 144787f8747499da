import ArgumentParser
import Foundation
import LinkcoreWire

/// `linkctl org …`: register and manage organisations on the running core.
struct OrgCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "org", abstract: "Register, list, show, suspend, resume, license and unlicense organisations.",
        subcommands: [Add.self, List.self, Show.self, Suspend.self, Resume.self, License.self, Unlicense.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register an organisation (its certificate must bind the same code).")
        @OptionGroup var admin: AdminSocketOptions
        @Option(help: "Organisation code, e.g. CITY01 (as bound in its certificate).") var code: String
        @Option(help: "Display name, shown to residents in their access log.") var name: String
        @Option(help: "public or private.") var sector: SectorArgument = .public
        @Option(help: "agency, private-connector, matcher, portal or card-authority (default: agency, or private-connector for the private sector).")
        var role: RoleArgument?
        @Flag(help: "Register it as a licensed verifier: the card authority answers its certificate queries.")
        var licensedVerifier = false

        func run() async throws {
            var org = LCOrganisation()
            org.code = code
            org.name = name
            org.sector = sector.proto
            org.role = (role ?? (sector == .private ? .privateConnector : .agency)).proto
            org.licensedVerifier = licensedVerifier
            guard case let .orgResponse(response)? = try await admin.request(.orgAdd(.with { $0.org = org })) else {
                throw ValidationError("unexpected reply")
            }
            print("registered \(OrgCommand.line(response.org))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registered organisations.")
        @OptionGroup var admin: AdminSocketOptions
        func run() async throws {
            guard case let .orgListResponse(list)? = try await admin.request(.orgList(LCOrgListRequest())) else {
                throw ValidationError("unexpected reply")
            }
            if list.orgs.isEmpty { print("no organisations registered") }
            for org in list.orgs { print(OrgCommand.line(org)) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one organisation.")
        @OptionGroup var admin: AdminSocketOptions
        @Argument var code: String
        func run() async throws {
            guard case let .orgResponse(response)? = try await admin.request(.orgShow(.with { $0.code = code })) else {
                throw ValidationError("unexpected reply")
            }
            let o = response.org
            print("""
                code:      \(o.code)
                name:      \(o.name)
                sector:    \(o.sector == .private ? "private" : "public")
                role:      \(RoleArgument(o.role)?.rawValue ?? "?")
                status:    \(o.suspended ? "SUSPENDED" : "active")
                verifier:  \(o.licensedVerifier ? "licensed" : "not licensed")
                key index: \(o.keyIndex)
                since:     \(Date(timeIntervalSince1970: Double(o.createdAtMs) / 1000))
                """)
        }
    }

    struct Suspend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Suspend an organisation: new sessions are refused.")
        @OptionGroup var admin: AdminSocketOptions
        @Argument var code: String
        func run() async throws { try await OrgCommand.setSuspended(admin, code, true) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a suspended organisation.")
        @OptionGroup var admin: AdminSocketOptions
        @Argument var code: String
        func run() async throws { try await OrgCommand.setSuspended(admin, code, false) }
    }

    struct License: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register an organisation as a licensed verifier: the card authority answers its certificate queries.")
        @OptionGroup var admin: AdminSocketOptions
        @Argument var code: String
        func run() async throws { try await OrgCommand.setLicensed(admin, code, true) }
    }

    struct Unlicense: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Withdraw an organisation's licence as a verifier (the card authority learns it within its cache period).")
        @OptionGroup var admin: AdminSocketOptions
        @Argument var code: String
        func run() async throws { try await OrgCommand.setLicensed(admin, code, false) }
    }

    static func setLicensed(_ admin: AdminSocketOptions, _ code: String, _ licensed: Bool) async throws {
        guard case let .orgResponse(response)? = try await admin.request(.orgSetLicensed(.with { $0.code = code; $0.licensed = licensed })) else {
            throw ValidationError("unexpected reply")
        }
        print(line(response.org))
    }

    static func setSuspended(_ admin: AdminSocketOptions, _ code: String, _ suspended: Bool) async throws {
        guard case let .orgResponse(response)? = try await admin.request(.orgSetSuspended(.with { $0.code = code; $0.suspended = suspended })) else {
            throw ValidationError("unexpected reply")
        }
        print(line(response.org))
    }

    static func line(_ o: LCOrganisation) -> String {
        "\(o.code)  \(o.name)  \(o.sector == .private ? "private" : "public")  \(RoleArgument(o.role)?.rawValue ?? "?")  key \(o.keyIndex)\(o.licensedVerifier ? "  licensed-verifier" : "")\(o.suspended ? "  SUSPENDED" : "")"
    }
}

/// `linkctl keys rotate --org X`: new links of X use a new key index; old codes keep converting.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keys", abstract: "Manage link-code keys.", subcommands: [Rotate.self, MasterInitCommand.self])

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a new key index for an organisation's new links.")
        @OptionGroup var admin: AdminSocketOptions
        @Option(help: "Organisation code.") var org: String
        func run() async throws {
            guard case let .keysRotateResponse(response)? = try await admin.request(.keysRotate(.with { $0.orgCode = org })) else {
                throw ValidationError("unexpected reply")
            }
            print("\(org): new links use key index \(response.keyIndex); codes under earlier indexes keep converting")
        }
    }
}

enum SectorArgument: String, ExpressibleByArgument {
    case `public`, `private`
    var proto: LCSector { self == .public ? .public : .private }
}

enum RoleArgument: String, ExpressibleByArgument {
    case agency, privateConnector = "private-connector", matcher, portal, cardAuthority = "card-authority"
    var proto: LCRole {
        switch self {
        case .agency: return .agency
        case .privateConnector: return .privateConnector
        case .matcher: return .matcher
        case .portal: return .portal
        case .cardAuthority: return .cardAuthority
        }
    }
    init?(_ role: LCRole) {
        switch role {
        case .agency: self = .agency
        case .privateConnector: self = .privateConnector
        case .matcher: self = .matcher
        case .portal: self = .portal
        case .cardAuthority: self = .cardAuthority
        default: return nil
        }
    }
}
