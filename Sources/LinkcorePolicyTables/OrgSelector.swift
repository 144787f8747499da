import LinkcoreWire
import LinkcoreConfig

/// Named groups of organisations, so one row covers every municipality or every bank.
/// A member is an organisation code or a `PREFIX*` pattern. Built-in classes follow the sector
/// and role the operator bound to the organisation's certificate.
public struct OrgClasses: Sendable {
    static let builtIn: [String: BuiltIn] = [
        "public": .sector(.public), "private": .sector(.private),
        "agency": .role(.agency), "private_connector": .role(.privateConnector),
        "matcher": .role(.matcher), "portal": .role(.portal), "card_authority": .role(.cardAuthority),
    ]

    enum BuiltIn: Sendable {
        case sector(LCSector)
        case role(LCRole)
    }

    let named: [String: [String]]

    func contains(_ name: String) -> Bool { named[name] != nil || Self.builtIn[name] != nil }

    func matches(_ name: String, _ org: LCOrgRef) -> Bool {
        if let members = named[name] {
            return members.contains { member in
                member.hasSuffix("*") ? org.code.hasPrefix(member.dropLast()) : org.code == member
            }
        }
        switch Self.builtIn[name] {
        case .sector(let s)?: return org.sector == s
        case .role(let r)?: return org.role == r
        case nil: return false
        }
    }
}

/// Who a row is about: `*` (anyone), `@class`, or one organisation code.
public enum OrgSelector: Sendable, Hashable, CustomStringConvertible {
    case any
    case member(String)
    case code(String)

    /// nil when the text names a class that is not defined.
    init?(_ text: String, classes: OrgClasses) {
        if text == "*" {
            self = .any
        } else if text.hasPrefix("@") {
            let name = String(text.dropFirst())
            guard classes.contains(name) else { return nil }
            self = .member(name)
        } else {
            self = .code(text)
        }
    }

    func matches(_ org: LCOrgRef, _ classes: OrgClasses) -> Bool {
        switch self {
        case .any: return true
        case .code(let code): return org.code == code
        case .member(let name): return classes.matches(name, org)
        }
    }

    /// More specific selectors win over broader ones when rows compete (fees, events).
    var specificity: Int {
        switch self {
        case .code: return 2
        case .member: return 1
        case .any: return 0
        }
    }

    public var description: String {
        switch self {
        case .any: return "*"
        case .member(let name): return "@" + name
        case .code(let code): return code
        }
    }
}

extension TableFile {
    func selector(_ t: TOMLTable, _ key: String, row: String, classes: OrgClasses) throws(ConfigError) -> OrgSelector {
        let text = try string(t, key, row: row)
        guard let selector = OrgSelector(text, classes: classes) else {
            throw error(
                t.item(key)?.position.line, "\(row) \(key)",
                "unknown class \"\(text)\"; define it under [classes] or use a built-in one (@public, @private, @agency, @private_connector)")
        }
        return selector
    }
}
