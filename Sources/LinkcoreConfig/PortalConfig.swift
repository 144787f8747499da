import Foundation
import LinkcoreShapes

/// The resident's portal configuration (`linkcore-portal run`), as read from
/// `/etc/linkcore/portal.toml` (every key documented there). Paths resolve as in ``DaemonConfig``.
public struct PortalConfig: Sendable, Equatable {
    public typealias Log = DaemonConfig.Log
    /// `[core]` is the adapter's table: the same keys, the same reconnect with backoff.
    public typealias Core = AdapterConfig.Core

    public struct Portal: Sendable, Equatable {
        /// The organisation code on the portal's client certificate (role PORTAL in the core).
        public var orgCode: String
        /// The portal's own SQLite file: certificate bindings, sessions, the folder.
        public var database: String
    }

    /// `[https]`: the residents' side. Loopback by default; a reverse proxy or a public address is
    /// a deliberate change.
    public struct HTTPS: Sendable, Equatable {
        public var listen: ListenAddress
        /// The server certificate (PEM chain) and key browsers see.
        public var certificate: String
        public var privateKey: String
        /// Host header values served (a name, optionally with `:port`); any other is refused
        /// (DNS rebinding, cache poisoning). Default: the listen host, `localhost` and `127.0.0.1`.
        public var allowedHosts: [String]
        public var maxBodyBytes: Int
        public var idleTimeout: Duration
    }

    /// `[session]`: how long a login lasts.
    public struct Session: Sendable, Equatable {
        /// A session unused for this long is over.
        public var idleTimeout: Duration
        /// A session this old is over, used or not.
        public var absoluteTimeout: Duration
    }

    public var portal: Portal
    public var https: HTTPS
    public var session: Session
    public var core: Core
    public var log: Log
    /// `[oidc]`: the OpenID Connect provider (PortalConfig+OIDC.swift); nil without the table.
    public var oidc: OIDC?
    public var file: String
    /// `[folder]` (PortalConfig+Folder.swift).
    public var folder = Folder()
    /// `[card]` + `[matcher]`: the card login (PortalConfig+Card.swift); nil without them.
    public var cardLogin: CardLogin? = nil

    public static let schema: [(table: String, keys: [String])] = [
        ("portal", ["org_code", "database"]),
        ("https", ["listen", "certificate", "private_key", "allowed_hosts", "max_body_bytes", "idle_timeout_ms"]),
        ("session", ["idle_timeout_ms", "absolute_timeout_ms"]),
        (
            "core",
            ["address", "server_name", "certificate", "private_key", "ca_bundle", "crl", "request_timeout_ms",
             "reconnect_initial_ms", "reconnect_max_ms"]
        ),
        ("log", ["level"]),
        ("folder", folderKeys),
        ("card", cardKeys),
        ("matcher", matcherKeys),
        ("oidc", oidcKeys),
    ]

    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> PortalConfig {
        let document = try Context.document(at: path)
        return try build(document, file: path, environment: environment)
    }

    public static func parse(
        text: String, file: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> PortalConfig {
        let document = try TOMLParser().parse(text, file: file)
        return try build(document, file: file, environment: environment)
    }

    static func build(_ root: TOMLTable, file: String, environment: [String: String]) throws(ConfigError) -> PortalConfig {
        let context = Context(file: file, environment: environment)
        let section = try Sections(root, schema: schema, context: context)

        let portalSection = section("portal")
        let orgCode = try portalSection.string("org_code", default: "PORTAL") { value in
            IdentifierShape.orgCode.matches(value) ? nil : "expected an organisation code matching [A-Z0-9][A-Z0-9_-]{1,31}"
        }
        let database = try portalSection.path("database", default: "/var/lib/linkcore-portal/portal.sqlite", allowCredential: false)

        let httpsSection = section("https")
        let listen = try httpsSection.listenAddress("listen", default: "127.0.0.1:8443")
        let certificate = try httpsSection.requiredPath("certificate")
        let privateKey = try httpsSection.requiredPath("private_key")
        let allowedHosts = try httpsSection.hostList("allowed_hosts", default: Array(Set([listen.host, "localhost", "127.0.0.1"])).sorted())
        let maxBody = try httpsSection.integer("max_body_bytes", default: 16_384, range: 1_024...1_048_576)
        let httpIdle = try httpsSection.milliseconds("idle_timeout_ms", default: 30_000, range: 100...3_600_000)

        let sessionSection = section("session")
        let idle = try sessionSection.milliseconds("idle_timeout_ms", default: 900_000, range: 1_000...86_400_000)
        let absolute = try sessionSection.milliseconds("absolute_timeout_ms", default: 28_800_000, range: 1_000...604_800_000)
        if absolute < idle {
            throw sessionSection.error(.invalidValue, "absolute_timeout_ms", "must not be below idle_timeout_ms")
        }

        let coreSection = section("core")
        let coreAddresses = try coreSection.coreAddresses("address", default: "127.0.0.1:7400")
        let coreAddress = coreAddresses[0]
        let serverName = try coreSection.serverName(default: coreAddress.host)
        let coreCertificate = try coreSection.requiredPath("certificate")
        let corePrivateKey = try coreSection.requiredPath("private_key")
        let caBundle = try coreSection.requiredPath("ca_bundle")
        let crl = try coreSection.optionalPath("crl")
        let requestTimeout = try coreSection.milliseconds("request_timeout_ms", default: 30_000, range: 100...600_000)
        let initial = try coreSection.integer("reconnect_initial_ms", default: 500, range: 10...600_000)
        let maximum = try coreSection.integer("reconnect_max_ms", default: 30_000, range: 10...3_600_000)
        if maximum < initial {
            throw coreSection.error(.invalidValue, "reconnect_max_ms", "must not be below reconnect_initial_ms (\(initial)), got \(maximum)")
        }

        let folder = try Self.folder(section("folder"))
        var config = PortalConfig(
            portal: Portal(orgCode: orgCode, database: database),
            https: HTTPS(listen: listen, certificate: certificate, privateKey: privateKey, allowedHosts: allowedHosts,
                         maxBodyBytes: maxBody, idleTimeout: httpIdle),
            session: Session(idleTimeout: idle, absoluteTimeout: absolute),
            core: Core(
                address: coreAddress, serverName: serverName, certificate: coreCertificate, privateKey: corePrivateKey,
                caBundle: caBundle, requestTimeout: requestTimeout, reconnectInitial: .milliseconds(initial),
                reconnectMax: .milliseconds(maximum), crl: crl),
            log: try section("log").log(),
            oidc: try section("oidc").oidc(),
            file: file, folder: folder)
        config.core.addresses = coreAddresses
        config.cardLogin = try cardLogin(card: section("card"), matcher: section("matcher"))
        return config
    }
}

extension Section {
    /// An array of Host header values: a DNS name or IP literal, optionally with `:port`.
    func hostList(_ key: String, default value: [String]) throws(ConfigError) -> [String] {
        guard let item = table.item(key) else { return value }
        guard case .array(let elements) = item.value else {
            throw error(.wrongType, key, "expected an array of host names, got \(item.value.literal)")
        }
        var hosts: [String] = []
        for element in elements {
            guard case .string(let s) = element.value, !s.isEmpty,
                  s.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || ".-:[]".unicodeScalars.contains($0)) })
            else {
                throw error(.invalidValue, key, "expected host names such as \"localhost\" or \"portal.example:8443\", got \(element.value.literal)",
                            line: element.position.line)
            }
            hosts.append(s.lowercased())
        }
        guard !hosts.isEmpty else { throw error(.invalidValue, key, "name at least one host") }
        return hosts
    }
}
