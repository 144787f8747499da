import Foundation
import LinkcoreShapes

extension AdapterConfig {
    /// The tables and keys the schema knows, in documentation order.
    public static let schema: [(table: String, keys: [String])] = [
        ("adapter", ["org_code", "database"]),
        (
            "core",
            ["address", "server_name", "certificate", "private_key", "ca_bundle", "crl", "request_timeout_ms",
             "reconnect_initial_ms", "reconnect_max_ms"]
        ),
        ("matcher", ["address", "server_name", "request_timeout_ms", "link_wait_ms"]),
        ("api", ["listen", "max_body_bytes", "token_file", "max_connections", "idle_timeout_ms", "request_timeout_ms"]),
        ("backend", ["kind", "dataset", "url", "timeout_ms"]),
        ("log", ["level"]),
        ("metrics", MetricsSettings.keys),
        ("card", ["ca", "ocsp_url", "crl", "max_status_age_ms", "challenge_lifetime_ms", "ocsp_timeout_ms", "require_nonce"]),
    ]

    /// Reads and validates the configuration file at `path`.
    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> AdapterConfig {
        let document = try Context.document(at: path)
        return try build(document, file: path, environment: environment)
    }

    /// Parses and validates configuration text. `file` names the file in errors and anchors relative paths.
    public static func parse(
        text: String, file: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> AdapterConfig {
        let document = try TOMLParser().parse(text, file: file)
        return try build(document, file: file, environment: environment)
    }

    static func build(_ root: TOMLTable, file: String, environment: [String: String]) throws(ConfigError) -> AdapterConfig {
        let context = Context(file: file, environment: environment)
        let section = try Sections(root, schema: schema, context: context)

        let adapterSection = section("adapter")
        guard adapterSection.table.item("org_code") != nil else {
            throw adapterSection.error(.missingRequired, "org_code", "missing required key (the organisation code on the certificate, e.g. \"CITY01\")")
        }
        let orgCode = try adapterSection.string("org_code", default: "") { value in
            IdentifierShape.orgCode.matches(value) ? nil : "expected an organisation code matching [A-Z0-9][A-Z0-9_-]{1,31}"
        }
        let database = try adapterSection.path("database", default: "/var/lib/linkcore-adapter/adapter.sqlite", allowCredential: false)

        let coreSection = section("core")
        let coreAddresses = try coreSection.coreAddresses("address", default: "127.0.0.1:7400")
        let coreAddress = coreAddresses[0]
        let serverName = try coreSection.serverName(default: coreAddress.host)
        let certificate = try coreSection.requiredPath("certificate")
        let privateKey = try coreSection.requiredPath("private_key")
        let caBundle = try coreSection.requiredPath("ca_bundle")
        let crl = try coreSection.optionalPath("crl")
        let requestTimeout = try coreSection.milliseconds("request_timeout_ms", default: 30_000, range: 100...600_000)
        let initial = try coreSection.integer("reconnect_initial_ms", default: 500, range: 10...600_000)
        let maximum = try coreSection.integer("reconnect_max_ms", default: 30_000, range: 10...3_600_000)
        if maximum < initial {
            throw coreSection.error(.invalidValue, "reconnect_max_ms", "must not be below reconnect_initial_ms (\(initial)), got \(maximum)")
        }

        var matcher: Matcher?
        let matcherSection = section("matcher")
        if matcherSection.present {
            let address = try matcherSection.address("address", default: "127.0.0.1:7500")
            matcher = Matcher(
                address: address, serverName: try matcherSection.serverName(default: address.host),
                requestTimeout: try matcherSection.milliseconds("request_timeout_ms", default: 10_000, range: 100...600_000),
                linkWait: try matcherSection.milliseconds("link_wait_ms", default: 10_000, range: 100...600_000))
        }

        let apiSection = section("api")
        let listen = try apiSection.listenAddress("listen", default: "127.0.0.1:8480")
        let maxBody = try apiSection.integer("max_body_bytes", default: 65_536, range: 1_024...16_777_216)
        let tokenFile = try apiSection.path(
            "token_file", default: URL(fileURLWithPath: database).deletingLastPathComponent().appendingPathComponent("api-token").path,
            allowCredential: false)
        let maxConnections = try apiSection.integer("max_connections", default: 64, range: 1...10_000)
        let idleTimeout = try apiSection.milliseconds("idle_timeout_ms", default: 30_000, range: 100...3_600_000)
        let apiRequestTimeout = try apiSection.milliseconds("request_timeout_ms", default: 120_000, range: 1_000...3_600_000)

        let backendSection = section("backend")
        guard backendSection.table.item("kind") != nil else {
            throw backendSection.error(.missingRequired, "kind", "missing required key; expected \"dataset\" or \"webhook\"")
        }
        let kind = try backendSection.enumeration("kind", default: BackendKind.dataset)
        var dataset: String?
        var url: String?
        switch kind {
        case .dataset:
            dataset = try backendSection.requiredPath("dataset")
            if backendSection.table.item("url") != nil {
                throw backendSection.error(.invalidValue, "url", "only for kind = \"webhook\" (this backend is a dataset)")
            }
        case .webhook:
            guard backendSection.table.item("url") != nil else {
                throw backendSection.error(.missingRequired, "url", "missing required key (the organisation's http:// or https:// endpoint)")
            }
            url = try backendSection.string("url", default: "") { value in
                guard let parsed = URL(string: value), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                    return "expected an http:// or https:// URL"
                }
                return nil
            }
            if backendSection.table.item("dataset") != nil {
                throw backendSection.error(.invalidValue, "dataset", "only for kind = \"dataset\" (this backend is a webhook)")
            }
        }
        let timeout = try backendSection.milliseconds("timeout_ms", default: 3_000, range: 10...600_000)

        var config = AdapterConfig(
            adapter: Adapter(orgCode: orgCode, database: database),
            core: Core(
                address: coreAddress, serverName: serverName, certificate: certificate, privateKey: privateKey, caBundle: caBundle,
                requestTimeout: requestTimeout, reconnectInitial: .milliseconds(initial), reconnectMax: .milliseconds(maximum),
                crl: crl),
            matcher: matcher,
            api: API(listen: listen, maxBodyBytes: maxBody, tokenFile: tokenFile, maxConnections: maxConnections,
                     idleTimeout: idleTimeout, requestTimeout: apiRequestTimeout),
            backend: Backend(kind: kind, dataset: dataset, url: url, timeout: timeout),
            log: try section("log").log(),
            file: file)
        config.core.addresses = coreAddresses
        config.metrics = try section("metrics").metrics()
        let cardSection = section("card")
        if cardSection.present { config.card = try cardSection.card() }
        return config
    }

}

extension Section {
    /// `[card]`: the card CA, where status comes from, and how fresh it must be.
    func card() throws(ConfigError) -> AdapterConfig.Card {
        let ca = try requiredPath("ca")
        return AdapterConfig.Card(
            ca: ca, ocspURL: try ocspURL(), crl: try optionalPath("crl"),
            maxStatusAge: try milliseconds("max_status_age_ms", default: 300_000, range: 1_000...604_800_000),
            challengeLifetime: try milliseconds("challenge_lifetime_ms", default: 120_000, range: 1_000...3_600_000),
            ocspTimeout: try milliseconds("ocsp_timeout_ms", default: 5_000, range: 100...60_000),
            requireNonce: try boolean("require_nonce", default: true))
    }

    /// `ocsp_url`, when given: the card authority's OCSP responder (the adapter's and the matcher's `[card]`).
    func ocspURL() throws(ConfigError) -> String? {
        guard table.item("ocsp_url") != nil else { return nil }
        return try string("ocsp_url", default: "") { value in
            guard let parsed = URL(string: value), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                return "expected the OCSP responder's http:// or https:// URL"
            }
            return nil
        }
    }

    /// One `host:port` to listen on (port 0: an ephemeral port).
    func listenAddress(_ key: String, default value: String) throws(ConfigError) -> ListenAddress {
        var text = value
        if let item = table.item(key) {
            guard case .string(let s) = item.value else {
                throw error(.wrongType, key, "expected a \"host:port\" string, got \(item.value.literal)")
            }
            text = s
        }
        switch ListenAddress.parse(text) {
        case .success(let address): return address
        case .failure(let problem): throw error(.invalidValue, key, "bad address \(TOMLValue.quote(text)): \(problem.reason)")
        }
    }

    /// The name the server's certificate must carry (a DNS name or an IP address).
    func serverName(default host: String) throws(ConfigError) -> String {
        try string("server_name", default: host) { value in
            ListenAddress.isHostname(value) || ListenAddress.isIPv4(value) || ListenAddress.canonicalIPv6(value) != nil
                ? nil : "expected the DNS name or IP address on the server's certificate"
        }
    }
}
