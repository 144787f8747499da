import Foundation
import NIOSSL
import PostgresNIO

/// Where and how the core reaches PostgreSQL, read from a libpq-style connection URL:
///
///     postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=...&sslrootcert=PATH]
///     postgresql://USER@/DATABASE?host=/run/postgresql      (a Unix socket directory)
///     postgresql://USER@H1:P1,H2:P2/DATABASE?target_session_attrs=read-write   (several servers)
///     postgresql://USER@/DATABASE?host=/run/pg1,/run/pg2&port=5432,5433      (the same, by parameter)
///
/// Several hosts name the servers of one cluster (a primary and its standbys), as libpq takes
/// them: every (re)connect tries them in order and keeps the first session that matches
/// `target_session_attrs` (`read-write`, the default here: the core writes; `any`: the first
/// that answers). `port=` gives one port for every host or one per host. A host in the `host=`
/// parameter that starts with `/` is a Unix socket directory.
///
/// The URL carries the password or not; either way it comes from a systemd credential or a 0600
/// file, never from linkcored.toml (the daemon reads it; this type only parses). `sslmode`:
/// `disable` (the default when every host is a Unix socket), `require` (encrypt, verify the server
/// against `sslrootcert` or the system's roots) or `verify-full` (also the host name; the default
/// over TCP). Unix sockets never use TLS.
public struct PostgresSettings: Sendable, Equatable {
    public enum Endpoint: Sendable, Equatable, CustomStringConvertible {
        case tcp(host: String, port: Int)
        /// The socket file itself (`<directory>/.s.PGSQL.<port>`).
        case unixSocket(path: String)

        public var description: String {
            switch self {
            case let .tcp(host, port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case let .unixSocket(path): return path
            }
        }
    }
    public enum TLSMode: String, Sendable, Equatable { case disable, require, verifyFull = "verify-full" }
    /// Which session a connect keeps (libpq's `target_session_attrs`, the two values linkcored needs).
    public enum TargetSession: String, Sendable, Equatable {
        /// Only a server whose `transaction_read_only` is `off`: a primary, not a standby.
        case readWrite = "read-write"
        /// The first server that answers.
        case any
    }

    /// The servers, in the order every (re)connect tries them; never empty.
    public var endpoints: [Endpoint]
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// PEM bundle of the CA(s) the server's certificate must chain to (nil: the system's roots).
    public var rootCertificatePath: String?
    public var targetSession: TargetSession

    /// The first server (the only one, in a single-host setting); setting it replaces the list.
    public var endpoint: Endpoint {
        get { endpoints[0] }
        set { endpoints = [newValue] }
    }

    public init(endpoint: Endpoint, username: String, password: String? = nil, database: String, tls: TLSMode = .disable,
                rootCertificatePath: String? = nil, targetSession: TargetSession = .readWrite) {
        self.init(endpoints: [endpoint], username: username, password: password, database: database, tls: tls,
                  rootCertificatePath: rootCertificatePath, targetSession: targetSession)
    }

    /// `endpoints` must not be empty (`parse` refuses a URL without a host).
    public init(endpoints: [Endpoint], username: String, password: String? = nil, database: String, tls: TLSMode = .disable,
                rootCertificatePath: String? = nil, targetSession: TargetSession = .readWrite) {
        precondition(!endpoints.isEmpty, "PostgresSettings needs at least one endpoint")
        self.endpoints = endpoints; self.username = username; self.password = password; self.database = database
        self.tls = tls; self.rootCertificatePath = rootCertificatePath; self.targetSession = targetSession
    }

    /// Parses a connection URL; the error says what is wrong without repeating the password.
    /// Parsed by hand rather than by `URLComponents`, which does not take libpq's host lists.
    public static func parse(_ text: String) throws(PostgresSettingsError) -> PostgresSettings {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let rest = ["postgresql://", "postgres://"].lazy.compactMap({ trimmed.hasPrefix($0) ? trimmed.dropFirst($0.count) : nil }).first else {
            throw PostgresSettingsError("the connection string must be a URL postgresql://user@host:port/database")
        }
        let (beforeQuery, queryText) = split(rest, at: "?")
        let (authority, pathText) = split(beforeQuery, at: "/")
        guard let at = authority.lastIndex(of: "@") else {
            throw PostgresSettingsError("the connection string names no user (postgresql://USER@host/database)")
        }
        let (userText, passwordText) = split(authority[..<at], at: ":")
        guard let user = userText.removingPercentEncoding, !user.isEmpty else {
            throw PostgresSettingsError("the connection string names no user (postgresql://USER@host/database)")
        }
        let password = passwordText.flatMap { $0.removingPercentEncoding }
        let database = (pathText ?? "").removingPercentEncoding ?? ""
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresSettingsError("the connection string names no database (postgresql://user@host/DATABASE)")
        }
        var query: [String: String] = [:]
        for item in (queryText ?? "").split(separator: "&") {
            let (name, value) = split(item, at: "=")
            query[name.removingPercentEncoding ?? name] = (value ?? "").removingPercentEncoding ?? ""
        }
        let known: Set<String> = ["host", "port", "sslmode", "sslrootcert", "target_session_attrs"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw PostgresSettingsError("unknown connection parameter \"\(unknown)\" (known: \(known.sorted().joined(separator: ", ")))")
        }
        let servers = try hostList(authority: String(authority[authority.index(after: at)...]), hosts: query["host"], ports: query["port"])
        let mode: TLSMode
        switch query["sslmode"] {
        case nil:
            let anyTCP = servers.contains { if case .tcp = $0 { return true } else { return false } }
            mode = anyTCP ? .verifyFull : .disable
        case let value?:
            guard let m = TLSMode(rawValue: value) else {
                throw PostgresSettingsError("sslmode \"\(value)\" is not one of disable, require, verify-full")
            }
            mode = m
        }
        var target = TargetSession.readWrite
        if let value = query["target_session_attrs"] {
            guard let t = TargetSession(rawValue: value) else {
                throw PostgresSettingsError("target_session_attrs \"\(value)\" is not one of read-write, any")
            }
            target = t
        }
        return PostgresSettings(endpoints: servers, username: user, password: password, database: database, tls: mode,
                                rootCertificatePath: query["sslrootcert"], targetSession: target)
    }

    /// The host list: the `host=` parameter if given (names, addresses or `/socket/directories`),
    /// else the URL's `h1[:p1],h2[:p2]`; `port=` gives one port for all or one per host.
    private static func hostList(authority: String, hosts: String?, ports: String?) throws(PostgresSettingsError) -> [Endpoint] {
        func port(_ text: some StringProtocol) throws(PostgresSettingsError) -> Int {
            guard let p = Int(text), (1...65535).contains(p) else { throw PostgresSettingsError("port \"\(text)\" is not 1-65535") }
            return p
        }
        var list: [(host: String, port: Int?)] = []
        if let hosts {
            list = hosts.split(separator: ",", omittingEmptySubsequences: false).map { (String($0), nil) }
        } else if !authority.isEmpty {
            for item in authority.split(separator: ",", omittingEmptySubsequences: false) {
                if item.hasPrefix("["), let close = item.firstIndex(of: "]") {   // [IPv6]:port
                    let after = item[item.index(after: close)...]
                    list.append((String(item[item.index(after: item.startIndex)..<close]),
                                 after.hasPrefix(":") ? try port(after.dropFirst()) : nil))
                } else {
                    let (host, portText) = split(item, at: ":")
                    list.append((host.removingPercentEncoding ?? host, try portText.map { p throws(PostgresSettingsError) in try port(p) }))
                }
            }
        }
        guard !list.isEmpty, list.allSatisfy({ !$0.host.isEmpty }) else {
            throw PostgresSettingsError("the connection string names no host (a name, an address, or ?host=/socket/directory; several: h1:p1,h2:p2)")
        }
        if let ports {
            let given = try ports.split(separator: ",", omittingEmptySubsequences: false).map { p throws(PostgresSettingsError) in try port(p) }
            guard given.count == 1 || given.count == list.count else {
                throw PostgresSettingsError("\(given.count) ports for \(list.count) hosts (give one port for all, or one per host)")
            }
            for i in list.indices { list[i].port = given.count == 1 ? given[0] : given[i] }
        }
        return list.map { host, port in
            host.hasPrefix("/") ? .unixSocket(path: host + "/.s.PGSQL.\(port ?? 5432)") : .tcp(host: host, port: port ?? 5432)
        }
    }

    /// Splits at the first `separator`: the part before, and the part after (nil without one).
    private static func split<S: StringProtocol>(_ text: S, at separator: Character) -> (String, String?) {
        guard let index = text.firstIndex(of: separator) else { return (String(text), nil) }
        return (String(text[..<index]), String(text[text.index(after: index)...]))
    }

    /// What logs may show: no password.
    public var redacted: String {
        let target = endpoints.count > 1 ? ", target: \(targetSession.rawValue)" : ""
        if endpoints.allSatisfy({ if case .unixSocket = $0 { return true } else { return false } }) {
            let sockets = endpoints.map(\.description).joined(separator: ", ")
            return "postgresql://\(username)@/\(database) (socket\(endpoints.count > 1 ? "s" : "") \(sockets)\(target))"
        }
        return "postgresql://\(username)@\(endpoints.map(\.description).joined(separator: ","))/\(database) (tls: \(tls.rawValue)\(target))"
    }

    /// postgres-nio's configuration for one of the servers, with `synchronous_commit = on` asked
    /// for at startup (and checked after: see `PostgresLink`).
    func connectionConfiguration(for endpoint: Endpoint) throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        switch endpoint {
        case let .unixSocket(path):
            configuration = .init(unixSocketPath: path, username: username, password: password, database: database)
        case let .tcp(host, port):
            let tlsSetting: PostgresConnection.Configuration.TLS
            switch tls {
            case .disable:
                tlsSetting = .disable
            case .require, .verifyFull:
                var client = TLSConfiguration.makeClientConfiguration()
                client.minimumTLSVersion = .tlsv12
                if let rootCertificatePath { client.trustRoots = .file(rootCertificatePath) }
                // require: the chain is verified, the name is not (libpq's verify-ca); verify-full: both.
                client.certificateVerification = tls == .verifyFull ? .fullVerification : .noHostnameVerification
                tlsSetting = .require(try NIOSSLContext(configuration: client))
            }
            configuration = .init(host: host, port: port, username: username, password: password, database: database, tls: tlsSetting)
        }
        configuration.options.additionalStartupParameters = [("synchronous_commit", "on"), ("application_name", "linkcored")]
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}

public struct PostgresSettingsError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
