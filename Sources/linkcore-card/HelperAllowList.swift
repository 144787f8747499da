import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The origins whose pages may ask the helper for a card login: explicit `scheme://host[:port]`
/// values, compared byte for byte with the browser's `Origin` header. No wildcard, no `null`.
/// An entry may bind the origin to a service code (`https://bank.example=BANK01`): that origin's
/// requests must then carry a challenge for that service, so a page cannot relay another
/// service's challenge to the holder's card.
struct HelperAllowList: Sendable {
    struct Entry: Sendable, Equatable {
        let origin: String
        let service: String?
    }

    let entries: [String: Entry]

    init(_ values: [String]) throws(HelperSetupError) {
        var entries: [String: Entry] = [:]
        for value in values {
            let entry = try Self.entry(value)
            entries[entry.origin] = entry
        }
        guard !entries.isEmpty else { throw .usage("at least one --allow-origin is needed: the helper answers no page by default") }
        self.entries = entries
    }

    func entry(for origin: String?) -> Entry? { origin.flatMap { entries[$0] } }

    /// `scheme://host[:port]` as a browser serialises an origin: http or https, lower-case host,
    /// no default port, no path, query, fragment or user.
    static func entry(_ value: String) throws(HelperSetupError) -> Entry {
        var originText = value
        var service: String?
        if let equals = value.firstIndex(of: "=") {
            originText = String(value[..<equals])
            service = String(value[value.index(after: equals)...])
            guard let service, !service.isEmpty, service.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
            else { throw .usage("--allow-origin \(value): the service after '=' must be a code of letters, digits, - or _") }
        }
        guard !originText.contains("*"), let components = URLComponents(string: originText),
              let scheme = components.scheme, ["http", "https"].contains(scheme),
              let host = components.host, !host.isEmpty, host == host.lowercased(),
              components.path.isEmpty, components.query == nil, components.fragment == nil,
              components.user == nil, components.password == nil
        else {
            throw .usage("--allow-origin \(value): expected an exact origin scheme://host[:port] (http or https, lower case, no path, no wildcard)")
        }
        let defaultPort = scheme == "https" ? 443 : 80
        let port = components.port.flatMap { $0 == defaultPort ? nil : $0 }
        return Entry(origin: "\(scheme)://\(host)" + (port.map { ":\($0)" } ?? ""), service: service)
    }
}

/// The helper's listening address: a loopback IP literal only (127.0.0.0/8 or ::1). A name such
/// as `localhost` is refused too: what it resolves to is not the helper's to decide.
struct HelperListenAddress: Sendable {
    let host: String
    let port: Int

    init(_ text: String) throws(HelperSetupError) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw .usage("--listen must be HOST:PORT, not \(text)")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard Self.isLoopback(host) else {
            throw .usage("--listen \(text): the helper binds loopback only (127.0.0.1 or [::1]); a browser helper on another address is reachable from the network")
        }
        (self.host, self.port) = (host, port)
    }

    static func isLoopback(_ host: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { $0.prefix(15).allSatisfy { $0 == 0 } && $0[15] == 1 }
        }
        return false
    }

    /// The `Host` header value a browser sends for `port` (and the helper's own origin after `http://`).
    func authority(port: Int) -> String { (host.contains(":") ? "[\(host)]" : host) + ":\(port)" }
}

/// Refusals at start: a bad command line (exit 64, EX_USAGE).
enum HelperSetupError: Error, CustomStringConvertible {
    case usage(String)
    var description: String {
        switch self { case .usage(let text): text }
    }
}
