import Foundation

extension MatcherConfig {
    /// The tables and keys the schema knows, in documentation order.
    public static let schema: [(table: String, keys: [String])] = [
        ("registry", ["path"]),
        ("listen", ["addresses"]),
        ("tls", Section.tlsKeys),
        (
            "core",
            ["address", "server_name", "client_certificate", "client_key", "ca_bundle", "crl", "request_timeout_ms", "retry_interval_ms"]
        ),
        ("matching", ["matching_number_lifetime_ms", "max_failed_matches", "failed_match_window_ms"]),
        ("limits", Section.limitsKeys),
        ("shutdown", ["drain_timeout_ms"]),
        ("log", ["level"]),
        ("metrics", MetricsSettings.keys),
        ("card", ["ca_bundle", "max_consent_lifetime_ms", "ocsp_url", "crl", "max_status_age_ms", "ocsp_timeout_ms"]),
    ]

    /// Reads and validates the configuration file at `path`.
    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> MatcherConfig {
        let document = try Context.document(at: path)
        return try build(document, file: path, environment: environment)
    }

    /// Parses and validates configuration text. `file` names the file in errors and anchors relative paths.
    public static func parse(
        text: String, file: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> MatcherConfig {
        let document = try TOMLParser().parse(text, file: file)
        return try build(document, file: file, environment: environment)
    }

    static func build(_ root: TOMLTable, file: String, environment: [String: String]) throws(ConfigError) -> MatcherConfig {
        let context = Context(file: file, environment: environment)
        let section = try Sections(root, schema: schema, context: context)

        let registryPath = try section("registry").path(
            "path", default: Registry().path, allowCredential: false)
        let listenSection = section("listen")
        let addresses = try listenSection.addresses("addresses", default: ["0.0.0.0:7500"])
        if addresses.isEmpty {
            throw listenSection.error(.invalidValue, "addresses", "expected at least one \"host:port\" (the matcher has no socket activation)")
        }
        let tls = try section("tls").serverTLS()

        // [core]
        let coreSection = section("core")
        let coreAddresses = try coreSection.coreAddresses("address", default: "127.0.0.1:7400")
        let coreAddress = coreAddresses[0]
        let serverName = try coreSection.string("server_name", default: coreAddress.host) { value in
            ListenAddress.isHostname(value) || ListenAddress.isIPv4(value) || ListenAddress.canonicalIPv6(value) != nil
                ? nil : "expected the DNS name or IP address on the core's certificate"
        }
        let clientCertificate = try coreSection.requiredPath("client_certificate")
        let clientKey = try coreSection.requiredPath("client_key")
        let coreCA = try coreSection.path("ca_bundle", default: tls.caBundle, allowCredential: true)
        let coreCRL = try coreSection.optionalPath("crl") ?? tls.crl
        let requestTimeout = try coreSection.milliseconds("request_timeout_ms", default: 30_000, range: 100...600_000)
        let retryInterval = try coreSection.milliseconds("retry_interval_ms", default: 1_000, range: 10...600_000)

        let lifetime = try section("matching").milliseconds(
            "matching_number_lifetime_ms", default: 15 * 60_000, range: 1_000...86_400_000)

        var config = MatcherConfig(
            registry: Registry(path: registryPath),
            listen: Listen(addresses: addresses),
            tls: tls,
            core: Core(
                address: coreAddress, serverName: serverName, clientCertificate: clientCertificate, clientKey: clientKey,
                caBundle: coreCA, requestTimeout: requestTimeout, retryInterval: retryInterval, crl: coreCRL),
            matching: Matching(
                matchingNumberLifetime: lifetime,
                maxFailedMatches: try section("matching").integer("max_failed_matches", default: 20, range: 1...1_000_000),
                failedMatchWindow: try section("matching").milliseconds("failed_match_window_ms", default: 60_000, range: 1_000...86_400_000)),
            limits: try section("limits").limits(),
            shutdown: try section("shutdown").shutdown(),
            log: try section("log").log(),
            file: file)
        config.core.addresses = coreAddresses
        config.metrics = try section("metrics").metrics()
        let card = section("card")
        config.card = Card(
            caBundle: try card.optionalPath("ca_bundle"),
            maxConsentLifetime: try card.milliseconds("max_consent_lifetime_ms", default: 600_000, range: 10_000...3_600_000),
            ocspURL: try card.ocspURL(), crl: try card.optionalPath("crl"),
            maxStatusAge: try card.milliseconds("max_status_age_ms", default: 300_000, range: 1_000...604_800_000),
            ocspTimeout: try card.milliseconds("ocsp_timeout_ms", default: 5_000, range: 100...60_000))
        return config
    }
}

extension Section {
    /// One `host:port` to connect to (port 1-65535).
    func address(_ key: String, default value: String) throws(ConfigError) -> ListenAddress {
        var text = value
        if let item = table.item(key) {
            guard case .string(let s) = item.value else {
                throw error(.wrongType, key, "expected a \"host:port\" string, got \(item.value.literal)")
            }
            text = s
        }
        switch ListenAddress.parse(text) {
        case .success(let address):
            guard address.port > 0 else { throw error(.invalidValue, key, "port 0 cannot be connected to, got \(TOMLValue.quote(text))") }
            return address
        case .failure(let problem):
            throw error(.invalidValue, key, "bad address \(TOMLValue.quote(text)): \(problem.reason)")
        }
    }
}
