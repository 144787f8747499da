#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

extension DaemonConfig {
    /// The tables and keys the schema knows, in documentation order.
    public static let schema: [(table: String, keys: [String])] = [
        ("core", ["id", "state_directory"]),
        ("listen", ["addresses", "admin_socket"]),
        ("tls", Section.tlsKeys),
        ("limits", Section.limitsKeys),
        ("shutdown", ["drain_timeout_ms"]),
        ("log", ["level"]),
        ("metrics", MetricsSettings.keys),
        ("store", ["engine", "path", "connection", "password"]),
        ("keys", ["master_secret"]),
        ("audit", ["checkpoint_interval_ms", "signer_keys", "witness"]),
        ("events", ["daily_batch_utc", "sweep_interval_ms", "delivery_window_ms"]),
        ("mediation", ["default_deadline_ms", "max_deadline_ms", "max_payload_bytes", "whitelist", "idempotency_window_s"]),
        ("policy", Section.policyKeys),
        ("node", DaemonConfig.nodeKeys),
    ]

    /// Reads and validates the configuration file at `path`.
    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> DaemonConfig {
        let document = try Context.document(at: path)
        return try build(document, file: path, environment: environment, hostname: nil)
    }

    /// Parses and validates configuration text. `file` names the file in errors and anchors relative paths
    /// (relative to the current directory when `file` is itself relative).
    public static func parse(
        text: String, file: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        hostname: String? = nil
    ) throws(ConfigError) -> DaemonConfig {
        let document = try TOMLParser().parse(text, file: file)
        return try build(document, file: file, environment: environment, hostname: hostname)
    }

    static func readFile(_ path: String) throws(ConfigError) -> [UInt8] {
        func fail(_ what: String) -> ConfigError {
            ConfigError(kind: .io, file: path, message: "\(what): \(String(cString: strerror(errno)))")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fail("cannot open the configuration file") }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("cannot read the configuration file")
            }
            if n == 0 { break }
            result.append(contentsOf: buffer[0..<n])
            if result.count > 16 * 1024 * 1024 {
                throw ConfigError(kind: .io, file: path, message: "the configuration file is larger than 16 MiB")
            }
        }
        return result
    }

    static func systemHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "linkcored" }
        let name = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "linkcored" : name
    }

    static func build(
        _ root: TOMLTable, file: String, environment: [String: String], hostname: String?
    ) throws(ConfigError) -> DaemonConfig {
        let context = Context(file: file, environment: environment)

        let section = try Sections(root, schema: schema, context: context)

        // [core]
        let coreSection = section("core")
        let id = try coreSection.string("id", default: hostname ?? systemHostname()) { value in
            let ok = !value.isEmpty && value.utf8.count <= 253
                && value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") }
            return ok ? nil : "expected 1 to 253 characters from A-Z a-z 0-9 . - _"
        }
        var stateDirectory = try coreSection.path("state_directory", default: "/var/lib/linkcore", allowCredential: false)
        if let fromSystemd = environment["STATE_DIRECTORY"], !fromSystemd.isEmpty {
            // systemd sets a colon-separated list when StateDirectory= names several; ours is the first.
            let first = String(fromSystemd.split(separator: ":").first ?? Substring(fromSystemd))
            if first.hasPrefix("/") { stateDirectory = ConfigPaths.normalize(first) }
        }

        // [listen]
        let listenSection = section("listen")
        let addresses = try listenSection.addresses("addresses", default: ["0.0.0.0:7400"])
        let adminSocket = try listenSection.path("admin_socket", default: "/run/linkcore/admin.sock", allowCredential: false)
        if adminSocket.utf8.count > 107 {
            throw listenSection.error(
                .invalidValue, "admin_socket",
                "the resolved path \"\(adminSocket)\" is \(adminSocket.utf8.count) bytes; AF_UNIX socket paths are limited to 107")
        }

        let tls = try section("tls").serverTLS()
        let limits = try section("limits").limits()
        let shutdown = try section("shutdown").shutdown()
        let log = try section("log").log()

        // [store]
        let storeSection = section("store")
        let engine: StoreEngine = try storeSection.enumeration("engine", default: .sqlite)
        let storePath = try storeSection.path(
            "path", default: ConfigPaths.normalize(stateDirectory + "/linkcore.sqlite"), allowCredential: false)
        // PostgreSQL's connection string and password: checked for form always, kept only for
        // engine = "postgresql" (the sample documents them under the SQLite default).
        let connectionReference = try storeSection.secretReference("connection", default: "credential:postgresql.conn")
        let passwordReference = try storeSection.table.item("password") == nil
            ? nil : storeSection.secretReference("password", default: "")
        let storeConnection = engine == .postgresql ? connectionReference : nil
        let storePassword = engine == .postgresql ? passwordReference : nil

        // [keys]
        let keysSection = section("keys")
        let masterSecret = try keysSection.secretReference("master_secret", default: "credential:master.key")

        // [audit]
        let auditSection = section("audit")
        let checkpointInterval = try auditSection.milliseconds("checkpoint_interval_ms", default: 60_000, range: 100...86_400_000)
        let signerKeys = try auditSection.keyFingerprints("signer_keys")
        let witness = try auditSection.path(
            "witness", default: ConfigPaths.normalize(stateDirectory + "/audit-witness"), allowCredential: false)

        var config = DaemonConfig(
            core: Core(id: id, stateDirectory: stateDirectory),
            listen: Listen(addresses: addresses, adminSocket: adminSocket),
            tls: tls, limits: limits, shutdown: shutdown, log: log,
            store: Store(engine: engine, path: storePath, connection: storeConnection, password: storePassword),
            keys: Keys(masterSecret: masterSecret),
            file: file
        )
        config.audit = Audit(checkpointInterval: checkpointInterval, signerKeys: signerKeys, witness: witness)

        // [events]
        let eventsSection = section("events")
        let batchTime = try eventsSection.string("daily_batch_utc", default: "18:00") { Self.minuteOfDay($0) == nil ? "expected \"HH:MM\" (UTC, 00:00-23:59)" : nil }
        config.events = Events(
            dailyBatchMinuteUTC: Self.minuteOfDay(batchTime) ?? 18 * 60,
            sweepInterval: try eventsSection.milliseconds("sweep_interval_ms", default: 30_000, range: 100...3_600_000),
            deliveryWindowMs: Int64(try eventsSection.integer("delivery_window_ms", default: 60_000, range: 0...3_600_000)))
        // [mediation]
        let mediationSection = section("mediation")
        let maxDeadline = try mediationSection.integer("max_deadline_ms", default: 30_000, range: 10...600_000)
        let defaultDeadline = try mediationSection.integer("default_deadline_ms", default: min(5_000, maxDeadline), range: 10...600_000)
        if defaultDeadline > maxDeadline {
            throw mediationSection.error(
                .outOfRange, "default_deadline_ms", "\(defaultDeadline) is more than max_deadline_ms (\(maxDeadline))")
        }
        config.mediation = Mediation(
            defaultDeadline: .milliseconds(defaultDeadline), maxDeadline: .milliseconds(maxDeadline),
            maxPayloadBytes: try mediationSection.integer("max_payload_bytes", default: 262_144, range: 0...16_000_000),
            whitelist: try mediationSection.path(
                "whitelist", default: ConfigPaths.normalize(context.baseDirectory + "/whitelist-builtin.csv"), allowCredential: false),
            idempotencyWindow: .seconds(try mediationSection.integer("idempotency_window_s", default: 86_400, range: 60...2_592_000)))
        config.policy = try section("policy").policy()
        config.metrics = try section("metrics").metrics()
        config.node = try section("node").node(engine: engine)
        return config
    }
}

extension DaemonConfig {
    /// "HH:MM" as minutes since midnight, or nil.
    static func minuteOfDay(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.count == 2 }), let h = Int(parts[0]), let m = Int(parts[1]),
              (0..<24).contains(h), (0..<60).contains(m) else { return nil }
        return h * 60 + m
    }
}

extension Section {
    /// An array of SHA-256 key fingerprints ("sha256:" and colons optional), normalised to 64
    /// lower-case hex digits.
    func keyFingerprints(_ key: String) throws(ConfigError) -> [String] {
        guard let item = table.item(key) else { return [] }
        let expected = "expected an array of key fingerprints (\"sha256:\" and 64 hex digits)"
        guard case .array(let elements) = item.value else {
            throw error(.wrongType, key, "\(expected), got \(item.value.literal)")
        }
        var result: [String] = []
        for element in elements {
            guard case .string(let text) = element.value else {
                throw error(.wrongType, key, "\(expected), got element \(element.value.literal)", line: element.position.line)
            }
            var hex = Substring(text.lowercased())
            if hex.hasPrefix("sha256:") { hex = hex.dropFirst(7) }
            let digits = String(hex.filter { $0 != ":" })
            guard digits.count == 64, digits.allSatisfy({ $0.isHexDigit && $0.isASCII }) else {
                throw error(.invalidValue, key, "\(expected), got \(TOMLValue.quote(text))", line: element.position.line)
            }
            result.append(digits)
        }
        return result
    }
}
