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
        ("tls", ["certificate", "private_key", "ca_bundle", "crl", "handshake_timeout_ms"]),
        (
            "limits",
            [
                "max_connections", "max_connections_per_org", "max_in_flight", "max_frame_bytes", "frame_timeout_ms",
                "idle_timeout_ms", "keepalive_ms", "write_buffer_high_bytes",
            ]
        ),
        ("shutdown", ["drain_timeout_ms"]),
        ("log", ["level"]),
        ("store", ["engine", "path"]),
        ("keys", ["master_secret"]),
        ("audit", ["checkpoint_interval_ms"]),
    ]

    /// Reads and validates the configuration file at `path`.
    public static func load(
        path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> DaemonConfig {
        let bytes = try readFile(path)
        let document = try TOMLParser().parse(bytes: bytes, file: path)
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
        let cwd = FileManager.default.currentDirectoryPath
        let context = Context(file: file, baseDirectory: ConfigPaths.directory(of: file, currentDirectory: cwd), environment: environment)

        // Top level: only known tables.
        let tableNames = schema.map(\.table)
        var tables: [String: Section] = [:]
        for entry in root.entries {
            guard let keys = schema.first(where: { $0.table == entry.key })?.keys else {
                let isTable = entry.item.value.tableValue != nil
                throw ConfigError(
                    kind: .unknownKey, file: file, line: entry.item.position.line,
                    keyPath: isTable ? "[\(entry.key)]" : entry.key,
                    message: (isTable ? "unknown table" : "unknown top-level key (every setting belongs in a table)")
                        + Context.suggestion(entry.key, among: tableNames) + "; valid tables are: "
                        + tableNames.joined(separator: ", "))
            }
            guard let table = entry.item.value.tableValue else {
                throw ConfigError(
                    kind: .wrongType, file: file, line: entry.item.position.line, keyPath: entry.key,
                    message: "expected a table ([\(entry.key)]), got \(entry.item.value.typeName)")
            }
            let section = Section(name: entry.key, table: table, validKeys: keys, context: context)
            try section.checkUnknownKeys()
            tables[entry.key] = section
        }
        func section(_ name: String) -> Section {
            tables[name]
                ?? Section(
                    name: name, table: TOMLTable(), validKeys: schema.first(where: { $0.table == name })?.keys ?? [],
                    context: context, present: false)
        }

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

        // [tls]
        let tlsSection = section("tls")
        let certificate = try tlsSection.requiredPath("certificate")
        let privateKey = try tlsSection.requiredPath("private_key")
        let caBundle = try tlsSection.requiredPath("ca_bundle")
        let crl = try tlsSection.optionalPath("crl")
        let handshake = try tlsSection.milliseconds("handshake_timeout_ms", default: 10_000, range: 100...600_000)

        // [limits]
        let limitsSection = section("limits")
        let maxConnections = try limitsSection.integer("max_connections", default: 10_000, range: 1...1_000_000)
        let perOrg = try limitsSection.integer("max_connections_per_org", default: 64, range: 1...1_000_000)
        if perOrg > maxConnections {
            throw limitsSection.error(
                .outOfRange, "max_connections_per_org",
                "\(perOrg) is more than max_connections (\(maxConnections)); expected at most \(maxConnections)")
        }
        let maxInFlight = try limitsSection.integer("max_in_flight", default: 256, range: 1...65536)
        let maxFrame = try limitsSection.integer("max_frame_bytes", default: 1_048_576, range: 1024...16_777_216)
        let frameTimeout = try limitsSection.milliseconds("frame_timeout_ms", default: 10_000, range: 100...3_600_000)
        let idleTimeout = try limitsSection.milliseconds("idle_timeout_ms", default: 120_000, range: 1_000...86_400_000)
        let keepalive = try limitsSection.milliseconds("keepalive_ms", default: 30_000, range: 1_000...3_600_000)
        let writeHigh = try limitsSection.integer("write_buffer_high_bytes", default: 1_048_576, range: 4096...1_073_741_824)

        // [shutdown]
        let drain = try section("shutdown").milliseconds("drain_timeout_ms", default: 10_000, range: 0...3_600_000)

        // [log]
        let level: LogLevel = try section("log").enumeration("level", default: .info)

        // [store]
        let storeSection = section("store")
        let engine: StoreEngine = try storeSection.enumeration("engine", default: .sqlite)
        let storePath = try storeSection.path(
            "path", default: ConfigPaths.normalize(stateDirectory + "/linkcore.sqlite"), allowCredential: false)

        // [keys]
        let keysSection = section("keys")
        let masterSecret = try keysSection.secretReference("master_secret", default: "credential:master.key")

        // [audit]
        let checkpointInterval = try section("audit").milliseconds("checkpoint_interval_ms", default: 60_000, range: 100...86_400_000)

        var config = DaemonConfig(
            core: Core(id: id, stateDirectory: stateDirectory),
            listen: Listen(addresses: addresses, adminSocket: adminSocket),
            tls: TLS(
                certificate: certificate, privateKey: privateKey, caBundle: caBundle, crl: crl,
                handshakeTimeout: handshake),
            limits: Limits(
                maxConnections: maxConnections, maxConnectionsPerOrg: perOrg, maxInFlight: maxInFlight,
                maxFrameBytes: maxFrame, frameTimeout: frameTimeout, idleTimeout: idleTimeout, keepalive: keepalive,
                writeBufferHighBytes: writeHigh),
            shutdown: Shutdown(drainTimeout: drain),
            log: Log(level: level),
            store: Store(engine: engine, path: storePath),
            keys: Keys(masterSecret: masterSecret),
            file: file
        )
        config.audit = Audit(checkpointInterval: checkpointInterval)
        return config
    }
}

// MARK: - Schema helpers

private struct Context {
    let file: String
    let baseDirectory: String
    let environment: [String: String]

    /// ` (did you mean "x"?)` when a valid name is within a small edit distance.
    static func suggestion(_ name: String, among valid: [String]) -> String {
        let scored = valid.map { ($0, editDistance(name.lowercased(), $0)) }.min { $0.1 < $1.1 }
        guard let (best, distance) = scored, distance <= max(2, best.count / 3) else { return "" }
        return " (did you mean \"\(best)\"?)"
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8)
        let b = Array(b.utf8)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

private struct Section {
    let name: String
    let table: TOMLTable
    let validKeys: [String]
    let context: Context
    var present = true

    func keyPath(_ key: String) -> String { "[\(name)] \(key)" }

    func line(_ key: String) -> Int? {
        if let item = table.item(key) { return item.position.line }
        return present ? table.position.line : nil
    }

    func error(_ kind: ConfigError.Kind, _ key: String, _ message: String, line: Int? = nil) -> ConfigError {
        ConfigError(kind: kind, file: context.file, line: line ?? self.line(key), keyPath: keyPath(key), message: message)
    }

    func checkUnknownKeys() throws(ConfigError) {
        for entry in table.entries where !validKeys.contains(entry.key) {
            throw ConfigError(
                kind: .unknownKey, file: context.file, line: entry.item.position.line, keyPath: keyPath(entry.key),
                message: "unknown key" + Context.suggestion(entry.key, among: validKeys) + "; valid keys in [\(name)] are: "
                    + validKeys.joined(separator: ", "))
        }
    }

    // Scalars

    func integer(_ key: String, default value: Int, range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let item = table.item(key) else { return value }
        let expectation = "expected an integer between \(range.lowerBound) and \(range.upperBound)"
        guard case .integer(let i) = item.value else {
            throw error(.wrongType, key, "\(expectation), got \(item.value.literal)")
        }
        guard i >= Int64(range.lowerBound), i <= Int64(range.upperBound) else {
            throw error(.outOfRange, key, "\(expectation), got \(i)")
        }
        return Int(i)
    }

    func milliseconds(_ key: String, default value: Int, range: ClosedRange<Int>) throws(ConfigError) -> Duration {
        .milliseconds(try integer(key, default: value, range: range))
    }

    func string(
        _ key: String, default value: String, validate: (String) -> String? = { _ in nil }
    ) throws(ConfigError) -> String {
        guard let item = table.item(key) else { return value }
        guard case .string(let s) = item.value else {
            throw error(.wrongType, key, "expected a string, got \(item.value.literal)")
        }
        if let problem = validate(s) { throw error(.invalidValue, key, "\(problem), got \(item.value.literal)") }
        return s
    }

    func enumeration<E: RawRepresentable & CaseIterable>(_ key: String, default value: E) throws(ConfigError) -> E
    where E.RawValue == String {
        let names = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        guard let item = table.item(key) else { return value }
        guard case .string(let s) = item.value else {
            throw error(.wrongType, key, "expected one of \(names), got \(item.value.literal)")
        }
        guard let e = E(rawValue: s) else {
            var message = "expected one of \(names), got \(item.value.literal)"
            if key == "engine" && ["postgresql", "postgres"].contains(s.lowercased()) {
                message += " (PostgreSQL is not supported yet)"
            }
            throw error(.invalidValue, key, message)
        }
        return e
    }

    // Paths

    /// Resolves a path value: `credential:NAME`, absolute, or relative to the config file's directory.
    func resolve(_ raw: String, key: String, line: Int?, allowCredential: Bool) throws(ConfigError) -> String {
        if raw.hasPrefix(ConfigPaths.credentialPrefix) {
            let name = String(raw.dropFirst(ConfigPaths.credentialPrefix.count))
            guard allowCredential else {
                throw error(
                    .invalidValue, key,
                    "credentials are read-only secrets and cannot be used for this path, got \(TOMLValue.quote(raw))",
                    line: line)
            }
            guard ConfigPaths.validCredentialName(name) else {
                throw error(
                    .credential, key,
                    "invalid credential name \(TOMLValue.quote(name)) (expected \"credential:NAME\", NAME without '/')",
                    line: line)
            }
            return try ConfigPaths.credentialPath(
                name: name, environment: context.environment, file: context.file, line: line, keyPath: keyPath(key))
        }
        guard !raw.isEmpty else { throw error(.invalidValue, key, "expected a path, got an empty string", line: line) }
        guard !raw.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw error(.invalidValue, key, "a path cannot contain control characters, got \(TOMLValue.quote(raw))", line: line)
        }
        if raw.hasPrefix("/") { return ConfigPaths.normalize(raw) }
        return ConfigPaths.normalize(context.baseDirectory + "/" + raw)
    }

    func pathItem(_ key: String) throws(ConfigError) -> (String, Int)? {
        guard let item = table.item(key) else { return nil }
        guard case .string(let s) = item.value else {
            throw error(.wrongType, key, "expected a path (string), got \(item.value.literal)")
        }
        return (s, item.position.line)
    }

    func path(_ key: String, default value: String, allowCredential: Bool) throws(ConfigError) -> String {
        guard let (raw, line) = try pathItem(key) else { return value }
        return try resolve(raw, key: key, line: line, allowCredential: allowCredential)
    }

    func optionalPath(_ key: String) throws(ConfigError) -> String? {
        guard let (raw, line) = try pathItem(key) else { return nil }
        return try resolve(raw, key: key, line: line, allowCredential: true)
    }

    func requiredPath(_ key: String) throws(ConfigError) -> String {
        guard let (raw, line) = try pathItem(key) else {
            let message =
                present
                ? "missing required key (a path or \"credential:NAME\")"
                : "missing required key; add a [\(name)] table with \(key) (a path or \"credential:NAME\")"
            throw error(.missingRequired, key, message)
        }
        return try resolve(raw, key: key, line: line, allowCredential: true)
    }

    func secretReference(_ key: String, default value: String) throws(ConfigError) -> SecretReference {
        let (raw, line) = try pathItem(key) ?? (value, self.line(key) ?? 0)
        let lineOrNil: Int? = table.item(key) == nil ? nil : line
        if raw.hasPrefix(ConfigPaths.credentialPrefix) {
            let name = String(raw.dropFirst(ConfigPaths.credentialPrefix.count))
            guard ConfigPaths.validCredentialName(name) else {
                throw error(
                    .credential, key,
                    "invalid credential name \(TOMLValue.quote(name)) (expected \"credential:NAME\", NAME without '/')",
                    line: lineOrNil)
            }
            return SecretReference(source: .credential(name), file: context.file, line: lineOrNil, keyPath: keyPath(key))
        }
        let path = try resolve(raw, key: key, line: lineOrNil, allowCredential: false)
        return SecretReference(source: .file(path), file: context.file, line: lineOrNil, keyPath: keyPath(key))
    }

    // Addresses

    func addresses(_ key: String, default value: [String]) throws(ConfigError) -> [ListenAddress] {
        var raw: [(String, Int?)] = value.map { ($0, nil) }
        if let item = table.item(key) {
            guard case .array(let elements) = item.value else {
                throw error(.wrongType, key, "expected an array of \"host:port\" strings, got \(item.value.literal)")
            }
            raw = []
            for element in elements {
                guard case .string(let s) = element.value else {
                    throw error(
                        .wrongType, key, "expected an array of \"host:port\" strings, got element \(element.value.literal)",
                        line: element.position.line)
                }
                raw.append((s, element.position.line))
            }
        }
        var result: [ListenAddress] = []
        for (text, line) in raw {
            switch ListenAddress.parse(text) {
            case .success(let address):
                if result.contains(address) {
                    throw error(.invalidValue, key, "\(TOMLValue.quote(text)) is listed twice", line: line)
                }
                result.append(address)
            case .failure(let problem):
                throw error(.invalidValue, key, "bad address \(TOMLValue.quote(text)): \(problem.reason)", line: line)
            }
        }
        return result
    }
}
