#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The daemon's configuration, as read from `/etc/linkcore/linkcored.toml` and validated.
///
/// Every path is absolute once loaded: relative paths are resolved against the directory of the
/// configuration file, and `credential:NAME` is resolved to `$CREDENTIALS_DIRECTORY/NAME` (systemd
/// `LoadCredential=`), except ``Keys/masterSecret`` which is resolved lazily.
public struct DaemonConfig: Sendable, Equatable {
    public struct Core: Sendable, Equatable {
        /// This node's identifier (default: the host name).
        public var id: String
        /// Where the node keeps its state. `$STATE_DIRECTORY` (set by systemd's `StateDirectory=`) wins when set.
        public var stateDirectory: String

        public init(id: String, stateDirectory: String = "/var/lib/linkcore") {
            self.id = id
            self.stateDirectory = stateDirectory
        }
    }

    public struct Listen: Sendable, Equatable {
        /// Addresses to bind when systemd passes no sockets. May be empty (then only inherited sockets are used).
        public var addresses: [ListenAddress]
        /// The operators' local admin socket (AF_UNIX path).
        public var adminSocket: String

        public init(
            addresses: [ListenAddress] = [ListenAddress(host: "0.0.0.0", port: 7400, family: .ipv4)],
            adminSocket: String = "/run/linkcore/admin.sock"
        ) {
            self.addresses = addresses
            self.adminSocket = adminSocket
        }
    }

    public struct TLS: Sendable, Equatable {
        /// PEM server certificate (chain).
        public var certificate: String
        /// PEM private key of the server certificate.
        public var privateKey: String
        /// PEM CA certificates that client certificates must chain to.
        public var caBundle: String
        /// PEM CRLs for peer certificates (every certificate of the chain is checked). Optional
        /// unless `requireCRL`; the shipped production samples require one.
        public var crl: String?
        public var handshakeTimeout: Duration
        /// `require_crl`: refuse to start without `crl` (production).
        public var requireCRL: Bool
        /// Warn (log, STATUS, status) this long before the CRL's nextUpdate: past it, every peer
        /// is refused.
        public var crlWarnBefore: Duration

        public init(
            certificate: String, privateKey: String, caBundle: String, crl: String? = nil,
            handshakeTimeout: Duration = .milliseconds(5_000), requireCRL: Bool = false,
            crlWarnBefore: Duration = .milliseconds(259_200_000)
        ) {
            self.certificate = certificate
            self.privateKey = privateKey
            self.caBundle = caBundle
            self.crl = crl
            self.handshakeTimeout = handshakeTimeout
            self.requireCRL = requireCRL
            self.crlWarnBefore = crlWarnBefore
        }
    }

    public struct Limits: Sendable, Equatable {
        public var maxConnections: Int
        public var maxConnectionsPerOrg: Int
        /// Requests in flight per connection; one more is answered with TOO_MANY_IN_FLIGHT.
        public var maxInFlight: Int
        public var maxFrameBytes: Int
        /// Time allowed to receive the rest of a frame once its first byte arrived.
        public var frameTimeout: Duration
        /// A connection with no frames in either direction for this long is closed.
        public var idleTimeout: Duration
        /// The keepalive interval announced to peers (Welcome.keepalive_ms); the server sends no pings.
        public var keepalive: Duration
        /// Stop reading from a peer while this many bytes wait to be written to it.
        public var writeBufferHighBytes: Int
        /// Bytes that may wait to be written to one peer at all; past it the peer is not reading
        /// and its connection is closed.
        public var maxOutboundBytes: Int
        /// After the core's last frame to a closing connection (a refusal, IDLE_TIMEOUT), how long
        /// it waits for that frame to leave before closing anyway.
        public var closeTimeout: Duration
        /// How long a peer may leave `writeBufferHighBytes` unread before its connection is closed.
        public var writeStallTimeout: Duration
        /// Open connections from one source address, counted at accept (before TLS and Hello).
        public var maxConnectionsPerAddress: Int
        /// Connections that have not completed Hello yet, counted at accept.
        public var maxConnectionsAwaitingHello: Int

        public init(
            maxConnections: Int = 10_000, maxConnectionsPerOrg: Int = 64, maxInFlight: Int = 256,
            maxFrameBytes: Int = 1_048_576, frameTimeout: Duration = .milliseconds(10_000),
            idleTimeout: Duration = .milliseconds(120_000), keepalive: Duration = .milliseconds(30_000),
            writeBufferHighBytes: Int = 1_048_576, maxOutboundBytes: Int = 8_388_608,
            closeTimeout: Duration = .milliseconds(2_000), writeStallTimeout: Duration = .milliseconds(30_000),
            maxConnectionsPerAddress: Int = 256,
            maxConnectionsAwaitingHello: Int = 1_024
        ) {
            self.maxOutboundBytes = maxOutboundBytes
            self.closeTimeout = closeTimeout
            self.writeStallTimeout = writeStallTimeout
            self.maxConnectionsPerAddress = maxConnectionsPerAddress
            self.maxConnectionsAwaitingHello = maxConnectionsAwaitingHello
            self.maxConnections = maxConnections
            self.maxConnectionsPerOrg = maxConnectionsPerOrg
            self.maxInFlight = maxInFlight
            self.maxFrameBytes = maxFrameBytes
            self.frameTimeout = frameTimeout
            self.idleTimeout = idleTimeout
            self.keepalive = keepalive
            self.writeBufferHighBytes = writeBufferHighBytes
        }
    }

    public struct Shutdown: Sendable, Equatable {
        /// How long to let connections finish after SIGTERM before closing them.
        public var drainTimeout: Duration

        public init(drainTimeout: Duration = .milliseconds(10_000)) {
            self.drainTimeout = drainTimeout
        }
    }

    public struct Log: Sendable, Equatable {
        public var level: LogLevel

        public init(level: LogLevel = .info) {
            self.level = level
        }
    }

    public struct Store: Sendable, Equatable {
        public var engine: StoreEngine
        /// The SQLite database file.
        public var path: String
        /// PostgreSQL: the file (or systemd credential) holding the connection URL, which may
        /// carry the password. Never the URL itself: a secret stays out of linkcored.toml.
        public var connection: SecretReference?
        /// PostgreSQL: a separate file (or credential) holding only the password, if the URL has none.
        public var password: SecretReference?

        public init(engine: StoreEngine = .sqlite, path: String, connection: SecretReference? = nil, password: SecretReference? = nil) {
            self.engine = engine
            self.path = path
            self.connection = connection
            self.password = password
        }
    }

    public struct Keys: Sendable, Equatable {
        /// The master secret for link-code keys; resolve with ``SecretReference/resolvePath(environment:)`` when needed.
        public var masterSecret: SecretReference

        public init(masterSecret: SecretReference) {
            self.masterSecret = masterSecret
        }
    }

    public struct Audit: Sendable, Equatable {
        /// How often the core signs a checkpoint of the access log's chain (when it has grown).
        public var checkpointInterval: Duration
        /// The keys a checkpoint may be signed with: SHA-256 fingerprints of the core's public keys
        /// (DER SubjectPublicKeyInfo), 64 lower-case hex digits each. Empty: the key of the
        /// configured `[tls] certificate` only (list the old key here after a key change, or the
        /// checkpoints it signed no longer verify).
        public var signerKeys: [String]
        /// The signed head (position and hash of the newest checkpoint), kept outside the database
        /// so that whoever holds only the database file cannot rewrite what the core has signed.
        /// Nil: `<state_directory>/audit-witness`.
        public var witness: String?

        public init(checkpointInterval: Duration = .milliseconds(60_000), signerKeys: [String] = [], witness: String? = nil) {
            self.checkpointInterval = checkpointInterval
            self.signerKeys = signerKeys
            self.witness = witness
        }
    }

    public struct Events: Sendable, Equatable {
        /// Minute of the UTC day at which daily-batch change events fall due (18:00 UTC = 03:00 JST).
        public var dailyBatchMinuteUTC: Int
        /// How often connected organisations are checked for due, unacknowledged events.
        public var sweepInterval: Duration
        /// Each receiver's change events are released in batches at a random time within this
        /// window after the report (or after the daily batch time), independently per receiver,
        /// so that receivers of one change cannot join their link codes by arrival time. 0: at once.
        public var deliveryWindowMs: Int64

        public init(dailyBatchMinuteUTC: Int = 18 * 60, sweepInterval: Duration = .milliseconds(30_000),
                    deliveryWindowMs: Int64 = 60_000) {
            self.dailyBatchMinuteUTC = dailyBatchMinuteUTC
            self.sweepInterval = sweepInterval
            self.deliveryWindowMs = deliveryWindowMs
        }
    }

    public struct Mediation: Sendable, Equatable {
        /// The deadline for a provider's answer when the requester gives none.
        public var defaultDeadline: Duration
        /// The longest deadline a requester may ask for; longer ones are cut to this.
        public var maxDeadline: Duration
        /// The largest query payload relayed to a provider.
        public var maxPayloadBytes: Int
        /// The built-in whitelist table (CSV), until policy modules replace it.
        public var whitelist: String
        /// How long a requester's idempotency key stays bound to its mediation (protocol.md §8).
        public var idempotencyWindow: Duration

        public init(defaultDeadline: Duration = .milliseconds(5_000), maxDeadline: Duration = .milliseconds(30_000),
                    maxPayloadBytes: Int = 262_144, whitelist: String = "/etc/linkcore/whitelist-builtin.csv",
                    idempotencyWindow: Duration = .seconds(86_400)) {
            self.defaultDeadline = defaultDeadline; self.maxDeadline = maxDeadline
            self.maxPayloadBytes = maxPayloadBytes; self.whitelist = whitelist; self.idempotencyWindow = idempotencyWindow
        }
    }

    public var core: Core
    public var listen: Listen
    public var tls: TLS
    public var limits: Limits
    public var shutdown: Shutdown
    public var log: Log
    public var store: Store
    public var keys: Keys
    public var audit = Audit()
    /// Where the access log's witness lives: `[audit] witness`, or `<state_directory>/audit-witness`.
    public var auditWitnessPath: String { audit.witness ?? ConfigPaths.normalize(core.stateDirectory + "/audit-witness") }
    public var events = Events()
    public var mediation = Mediation()
    public var policy = Policy()
    /// `[metrics]`: the opt-in loopback Prometheus endpoint.
    public var metrics = MetricsSettings()
    /// `[node]`: one of several nodes on one database (DaemonConfig+Node.swift); nil alone.
    public var node: Node?
    /// The file this configuration was read from (as named to the loader).
    public var file: String

    public init(
        core: Core, listen: Listen = Listen(), tls: TLS, limits: Limits = Limits(), shutdown: Shutdown = Shutdown(),
        log: Log = Log(), store: Store, keys: Keys, file: String
    ) {
        self.core = core
        self.listen = listen
        self.tls = tls
        self.limits = limits
        self.shutdown = shutdown
        self.log = log
        self.store = store
        self.keys = keys
        self.file = file
    }
}

/// Log levels, spelled as in swift-log's `Logger.Level` raw values (`Logger.Level(rawValue: level.rawValue)`).
public enum LogLevel: String, Sendable, Equatable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

public enum StoreEngine: String, Sendable, Equatable, CaseIterable {
    case sqlite
    /// PostgreSQL (issue 16): `[store] connection` names the connection string's file.
    case postgresql
}

/// A `host:port` to listen on.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Family: Sendable, Hashable {
        case ipv4
        case ipv6
        /// A host name, resolved when binding.
        case hostname
    }

    /// The host without brackets (`::1`, `0.0.0.0`, `localhost`); IPv6 in its canonical RFC 5952 form.
    public var host: String
    /// 1...65535, or 0 for an ephemeral port (tests).
    public var port: Int
    public var family: Family

    public init(host: String, port: Int, family: Family) {
        self.host = host
        self.port = port
        self.family = family
    }

    /// `0.0.0.0:7400`, `[::1]:7400`.
    public var description: String { family == .ipv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses `host:port`, `[v6]:port`; the error string explains what is wrong.
    public static func parse(_ text: String) -> Result<ListenAddress, ListenAddressError> {
        func fail(_ why: String) -> Result<ListenAddress, ListenAddressError> { .failure(ListenAddressError(reason: why)) }
        let example = "expected \"host:port\", e.g. \"0.0.0.0:7400\" or \"[::1]:7400\""
        var host: Substring
        var portText: Substring
        var family: Family
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return fail("missing ']' after the IPv6 address") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return fail("missing \":port\" after \"[\(host)]\"") }
            portText = rest.dropFirst()
            guard let canonical = canonicalIPv6(String(host)) else {
                return fail("\"\(host)\" is not a valid IPv6 address")
            }
            host = Substring(canonical)
            family = .ipv6
        } else {
            guard let colon = text.lastIndex(of: ":") else { return fail("missing port; \(example)") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") {
                return fail("IPv6 addresses must be written in brackets, e.g. \"[::1]:7400\"")
            }
            if host.isEmpty { return fail("missing host; \(example) (use 0.0.0.0 or [::] for all addresses)") }
            if host == "*" { return fail("\"*\" is not a host; use 0.0.0.0 (IPv4) or [::] (IPv6) for all addresses") }
            if host.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) {
                guard isIPv4(String(host)) else { return fail("\"\(host)\" is not a valid IPv4 address") }
                family = .ipv4
            } else {
                guard isHostname(String(host)) else { return fail("\"\(host)\" is not a valid host name or IP address") }
                family = .hostname
            }
        }
        guard !portText.isEmpty else { return fail("missing port after ':'; \(example)") }
        guard portText.allSatisfy({ $0.isASCII && $0.isNumber }), portText.count <= 5, let port = Int(portText),
            port <= 65535
        else {
            return fail("port \"\(portText)\" is not a number between 1 and 65535")
        }
        return .success(ListenAddress(host: String(host), port: port, family: family))
    }

    static func isIPv4(_ s: String) -> Bool {
        var addr = in_addr()
        return inet_pton(AF_INET, s, &addr) == 1
    }

    /// The RFC 5952 form (`0:0::1` → `::1`), or nil when `s` is not an IPv6 address.
    static func canonicalIPv6(_ s: String) -> String? {
        var addr = in6_addr()
        guard inet_pton(AF_INET6, s, &addr) == 1 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        guard inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func isHostname(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 253 else { return false }
        let labels = s.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            guard (1...63).contains(label.utf8.count), label.first != "-", label.last != "-",
                label.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })
            else { return false }
        }
        return true
    }
}

public struct ListenAddressError: Error, Sendable, Equatable {
    public var reason: String
}

/// A secret's location, resolved only when the secret is needed.
public struct SecretReference: Sendable, Hashable, CustomStringConvertible {
    public enum Source: Sendable, Hashable {
        /// An absolute path.
        case file(String)
        /// A systemd credential name (`LoadCredential=NAME:...`), found in `$CREDENTIALS_DIRECTORY`.
        case credential(String)
    }

    public var source: Source
    /// For error messages: where the reference was written.
    public var file: String
    public var line: Int?
    public var keyPath: String

    public init(source: Source, file: String, line: Int? = nil, keyPath: String) {
        self.source = source
        self.file = file
        self.line = line
        self.keyPath = keyPath
    }

    /// Equality and hashing consider only the source, not where it was written.
    public static func == (lhs: SecretReference, rhs: SecretReference) -> Bool { lhs.source == rhs.source }
    public func hash(into hasher: inout Hasher) { hasher.combine(source) }

    public var description: String {
        switch source {
        case .file(let p): return p
        case .credential(let n): return "credential:\(n)"
        }
    }

    /// The path to read the secret from.
    public func resolvePath(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> String {
        switch source {
        case .file(let p):
            return p
        case .credential(let name):
            return try ConfigPaths.credentialPath(
                name: name, environment: environment, file: file, line: line, keyPath: keyPath)
        }
    }
}

enum ConfigPaths {
    static let credentialPrefix = "credential:"

    static func credentialPath(
        name: String, environment: [String: String], file: String, line: Int?, keyPath: String
    ) throws(ConfigError) -> String {
        guard let dir = environment["CREDENTIALS_DIRECTORY"], !dir.isEmpty else {
            throw ConfigError(
                kind: .credential, file: file, line: line, keyPath: keyPath,
                message:
                    "\"credential:\(name)\" needs $CREDENTIALS_DIRECTORY, which is not set; run under systemd with LoadCredential=\(name):/path/to/file, or give a file path instead"
            )
        }
        return normalize(dir.hasSuffix("/") ? dir + name : dir + "/" + name)
    }

    static func validCredentialName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && name.utf8.count <= 255
            && !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
    }

    /// Lexically normalises an absolute path: collapses `//`, `.` and `..`.
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The absolute directory containing `file`.
    static func directory(of file: String, currentDirectory: String) -> String {
        let absolute = file.hasPrefix("/") ? file : currentDirectory + "/" + file
        let normalized = normalize(absolute)
        guard let slash = normalized.lastIndex(of: "/") else { return "/" }
        let dir = String(normalized[..<slash])
        return dir.isEmpty ? "/" : dir
    }
}
