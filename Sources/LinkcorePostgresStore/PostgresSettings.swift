import Foundation
import NIOSSL
import PostgresNIO

/// Where and how the core reaches PostgreSQL, read from a libpq-style connection URL:
///
///     postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=...&sslrootcert=PATH]
///     postgresql://USER@/DATABASE?host=/run/postgresql      (a Unix socket directory)
///
/// The URL carries the password or not; either way it comes from a systemd credential or a 0600
/// file, never from linkcored.toml (the daemon reads it; this type only parses). `sslmode`:
/// `disable` (the default for a Unix socket), `require` (encrypt, verify the server against
/// `sslrootcert` or the system's roots) or `verify-full` (also the host name; the default over TCP).
public struct PostgresSettings: Sendable, Equatable {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The socket file itself (`<directory>/.s.PGSQL.<port>`).
        case unixSocket(path: String)
    }
    public enum TLSMode: String, Sendable, Equatable { case disable, require, verifyFull = "verify-full" }

    public var endpoint: Endpoint
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// PEM bundle of the CA(s) the server's certificate must chain to (nil: the system's roots).
    public var rootCertificatePath: String?

    public init(endpoint: Endpoint, username: String, password: String? = nil, database: String, tls: TLSMode = .disable,
                rootCertificatePath: String? = nil) {
        self.endpoint = endpoint; self.username = username; self.password = password; self.database = database
        self.tls = tls; self.rootCertificatePath = rootCertificatePath
    }

    /// Parses a connection URL; the error says what is wrong without repeating the password.
    public static func parse(_ text: String) throws(PostgresSettingsError) -> PostgresSettings {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let components = URLComponents(string: trimmed),
              components.scheme == "postgresql" || components.scheme == "postgres" else {
            throw PostgresSettingsError("the connection string must be a URL postgresql://user@host:port/database")
        }
        guard let user = components.percentEncodedUser.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw PostgresSettingsError("the connection string names no user (postgresql://USER@host/database)")
        }
        let database = String(components.path.drop(while: { $0 == "/" })).removingPercentEncoding ?? ""
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresSettingsError("the connection string names no database (postgresql://user@host/DATABASE)")
        }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let known: Set<String> = ["host", "port", "sslmode", "sslrootcert"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw PostgresSettingsError("unknown connection parameter \"\(unknown)\" (known: \(known.sorted().joined(separator: ", ")))")
        }
        let port = try query["port"].map { value throws(PostgresSettingsError) -> Int in
            guard let p = Int(value), (1...65535).contains(p) else { throw PostgresSettingsError("port \"\(value)\" is not 1-65535") }
            return p
        } ?? components.port ?? 5432
        let endpoint: Endpoint
        if let socketDirectory = query["host"], socketDirectory.hasPrefix("/") {
            endpoint = .unixSocket(path: socketDirectory + "/.s.PGSQL.\(port)")
        } else if let host = query["host"] ?? components.host, !host.isEmpty {
            endpoint = .tcp(host: host, port: port)
        } else {
            throw PostgresSettingsError("the connection string names no host (a name, an address, or ?host=/socket/directory)")
        }
        let mode: TLSMode
        switch query["sslmode"] {
        case nil: mode = { if case .unixSocket = endpoint { return .disable } else { return .verifyFull } }()
        case let value?:
            guard let m = TLSMode(rawValue: value) else {
                throw PostgresSettingsError("sslmode \"\(value)\" is not one of disable, require, verify-full")
            }
            mode = m
        }
        return PostgresSettings(endpoint: endpoint, username: user,
                                password: components.percentEncodedPassword.flatMap { $0.removingPercentEncoding },
                                database: database, tls: mode, rootCertificatePath: query["sslrootcert"])
    }

    /// What logs may show: no password.
    public var redacted: String {
        switch endpoint {
        case let .tcp(host, port): return "postgresql://\(username)@\(host):\(port)/\(database) (tls: \(tls.rawValue))"
        case let .unixSocket(path): return "postgresql://\(username)@/\(database) (socket \(path))"
        }
    }

    /// postgres-nio's configuration, with `synchronous_commit = on` asked for at startup (and
    /// checked after: see `PostgresLink`).
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
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
