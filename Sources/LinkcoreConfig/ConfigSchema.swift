import Foundation
/// The schema readers shared by the configuration files (`linkcored.toml`, `matcher.toml`): each
/// value is checked against its type and range, and every error names the file, the line and the key.

struct Context {
    let file: String
    let baseDirectory: String
    let environment: [String: String]

    /// Relative paths in `file` resolve against its directory (itself taken against the current
    /// directory when relative).
    init(file: String, environment: [String: String]) {
        self.file = file
        self.baseDirectory = ConfigPaths.directory(of: file, currentDirectory: FileManager.default.currentDirectoryPath)
        self.environment = environment
    }

    /// The configuration file at `path`, parsed (every loader's first step).
    static func document(at path: String) throws(ConfigError) -> TOMLTable {
        try TOMLParser().parse(bytes: DaemonConfig.readFile(path), file: path)
    }

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

struct Section {
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
            if key == "engine" && ["postgres", "pg"].contains(s.lowercased()) {
                message += " (did you mean \"postgresql\"?)"
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

// MARK: - Tables

/// The top-level tables of a configuration file, checked against a schema: an unknown table or
/// key, or a bare top-level key, is an error that names the valid ones.
struct Sections {
    let context: Context
    let schema: [(table: String, keys: [String])]
    private var tables: [String: Section] = [:]

    init(_ root: TOMLTable, schema: [(table: String, keys: [String])], context: Context) throws(ConfigError) {
        self.context = context
        self.schema = schema
        let file = context.file
        let tableNames = schema.map(\.table)
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
    }

    /// The table `name`, or an empty one (every key takes its default) when the file has none.
    func callAsFunction(_ name: String) -> Section {
        tables[name]
            ?? Section(
                name: name, table: TOMLTable(), validKeys: schema.first(where: { $0.table == name })?.keys ?? [],
                context: context, present: false)
    }
}

// MARK: - Tables both servers share

extension Section {
    static let tlsKeys = ["certificate", "private_key", "ca_bundle", "crl", "require_crl", "crl_warn_before_ms", "handshake_timeout_ms"]
    static let limitsKeys = [
        "max_connections", "max_connections_per_org", "max_in_flight", "max_frame_bytes", "frame_timeout_ms",
        "idle_timeout_ms", "keepalive_ms", "write_buffer_high_bytes", "max_outbound_bytes", "close_timeout_ms",
        "write_stall_timeout_ms",
        "max_connections_per_address", "max_connections_awaiting_hello",
    ]

    /// `[tls]`: the server side of mutual TLS.
    func serverTLS() throws(ConfigError) -> DaemonConfig.TLS {
        let certificate = try requiredPath("certificate")
        let privateKey = try requiredPath("private_key")
        let caBundle = try requiredPath("ca_bundle")
        let crl = try optionalPath("crl")
        let requireCRL = try boolean("require_crl", default: false)
        if requireCRL && crl == nil {
            throw error(.missingRequired, "crl", "require_crl = true: give the CRL (PEM) that peer certificates are checked against")
        }
        let handshake = try milliseconds("handshake_timeout_ms", default: 5_000, range: 100...600_000)
        let warnBefore = try milliseconds("crl_warn_before_ms", default: 259_200_000, range: 0...7_776_000_000)
        return DaemonConfig.TLS(
            certificate: certificate, privateKey: privateKey, caBundle: caBundle, crl: crl, handshakeTimeout: handshake,
            requireCRL: requireCRL, crlWarnBefore: warnBefore)
    }

    func boolean(_ key: String, default value: Bool) throws(ConfigError) -> Bool {
        guard let item = table.item(key) else { return value }
        guard case .boolean(let b) = item.value else {
            throw error(.wrongType, key, "expected true or false, got \(item.value.literal)")
        }
        return b
    }

    /// `[limits]`: per-connection and per-server limits.
    func limits() throws(ConfigError) -> DaemonConfig.Limits {
        let maxConnections = try integer("max_connections", default: 10_000, range: 1...1_000_000)
        let perOrg = try integer("max_connections_per_org", default: 64, range: 1...1_000_000)
        if perOrg > maxConnections {
            throw error(
                .outOfRange, "max_connections_per_org",
                "\(perOrg) is more than max_connections (\(maxConnections)); expected at most \(maxConnections)")
        }
        let writeHigh = try integer("write_buffer_high_bytes", default: 1_048_576, range: 4096...1_073_741_824)
        let maxOutbound = try integer("max_outbound_bytes", default: 8_388_608, range: 8192...4_294_967_296)
        if maxOutbound < writeHigh {
            throw error(
                .outOfRange, "max_outbound_bytes",
                "\(maxOutbound) is less than write_buffer_high_bytes (\(writeHigh)); expected at least \(writeHigh)")
        }
        return DaemonConfig.Limits(
            maxConnections: maxConnections, maxConnectionsPerOrg: perOrg,
            maxInFlight: try integer("max_in_flight", default: 256, range: 1...65536),
            maxFrameBytes: try integer("max_frame_bytes", default: 1_048_576, range: 1024...16_777_216),
            frameTimeout: try milliseconds("frame_timeout_ms", default: 10_000, range: 100...3_600_000),
            idleTimeout: try milliseconds("idle_timeout_ms", default: 120_000, range: 1_000...86_400_000),
            keepalive: try milliseconds("keepalive_ms", default: 30_000, range: 1_000...3_600_000),
            writeBufferHighBytes: writeHigh, maxOutboundBytes: maxOutbound,
            closeTimeout: try milliseconds("close_timeout_ms", default: 2_000, range: 100...600_000),
            writeStallTimeout: try milliseconds("write_stall_timeout_ms", default: 30_000, range: 1_000...3_600_000),
            maxConnectionsPerAddress: try integer("max_connections_per_address", default: 256, range: 1...1_000_000),
            maxConnectionsAwaitingHello: try integer("max_connections_awaiting_hello", default: 1_024, range: 1...1_000_000))
    }

    /// `[shutdown] drain_timeout_ms`.
    func shutdown() throws(ConfigError) -> DaemonConfig.Shutdown {
        DaemonConfig.Shutdown(drainTimeout: try milliseconds("drain_timeout_ms", default: 10_000, range: 0...3_600_000))
    }

    /// `[log] level`.
    func log() throws(ConfigError) -> DaemonConfig.Log {
        DaemonConfig.Log(level: try enumeration("level", default: .info))
    }
}
