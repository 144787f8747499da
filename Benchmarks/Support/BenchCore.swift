import Foundation
import LinkcoreClient
import LinkcorePKI
import LinkcoreTLS
import LinkcoreWire

/// What every end-to-end benchmark needs: a scratch directory, a throwaway PKI, and a release
/// `linkcored` started as a real child process on a free port with its durable store.
public final class BenchCore: @unchecked Sendable {
    // @unchecked: set up once in `start`, then only read (the Process is only terminated).
    public let work: URL
    /// The directory of the running bench binary: linkcored and friends are built beside it.
    public let bin: URL
    public let process: Process
    public let admin: LinkcoreConnection
    public let port: Int

    public func path(_ name: String) -> String { work.appendingPathComponent(name).path }

    public func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
    }

    /// Makes the PKI (a certificate for each of `orgs`, a node certificate `node-<name>` for each
    /// of `nodes`), writes `files` and the config (plus `extraConfig` tables, whose relative paths
    /// name `files`), starts linkcored and waits for its admin socket.
    /// `secrets` are written with mode 0600, as linkcored requires of key material and of the
    /// PostgreSQL connection string.
    public static func start(name: String, orgs: [String], nodes: [String] = [], files: [String: String] = [:],
                             secrets: [String: String] = [:], extraConfig: String = "") async throws -> BenchCore {
        let work = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("\(name)-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        func path(_ file: String) -> String { work.appendingPathComponent(file).path }
        func write(_ file: String, _ text: String) throws { try text.write(toFile: path(file), atomically: true, encoding: .utf8) }

        say("PKI and configuration in \(work.path)")
        let ca = try CertificateAuthority.create(commonName: "bench CA", validDays: 30)
        try write("ca.pem", ca.certificate.certificatePEM)
        try write("crl.pem", try ca.makeCRL(revokedSerials: [], nextUpdateDays: 7))
        let server = try ca.issueServer(commonName: "localhost", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validDays: 20)
        try write("server.pem", server.certificatePEM)
        try write("server.key", server.privateKeyPEM)
        for org in orgs {
            let cert = try ca.issueOrganisation(code: org, name: org, validDays: 20)
            try write("\(org).pem", cert.certificatePEM)
            try write("\(org).key", cert.privateKeyPEM)
        }
        for node in nodes {
            let cert = try ca.issueNode(name: node, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validDays: 20)
            try write("node-\(node).pem", cert.certificatePEM)
            try write("node-\(node).key", cert.privateKeyPEM)
        }
        for (file, text) in files { try write(file, text) }
        for (file, text) in secrets {
            _ = FileManager.default.createFile(atPath: path(file), contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        }
        _ = FileManager.default.createFile(atPath: path("master.key"), contents: Data((0..<32).map { _ in UInt8.random(in: 0...255) }),
                                           attributes: [.posixPermissions: 0o600])
        return try await launch(work: work, instance: "", extraConfig: extraConfig, ownsWork: true)
    }

    /// Another linkcored on the same PKI and master secret, with its own config, state directory
    /// and admin socket (`instance` names them): a second node of a cluster.
    public func startNode(_ instance: String, extraConfig: String) async throws -> BenchCore {
        try await Self.launch(work: work, instance: "-" + instance, extraConfig: extraConfig, ownsWork: false)
    }

    private static func launch(work: URL, instance: String, extraConfig: String, ownsWork: Bool) async throws -> BenchCore {
        func path(_ file: String) -> String { work.appendingPathComponent(file).path }
        let config = "linkcored\(instance).toml", admin = path("admin\(instance).sock"), logFile = path("linkcored\(instance).log")
        try """
            [core]
            id = "bench"
            state_directory = "\(path("state\(instance)"))"
            [listen]
            addresses = ["127.0.0.1:0"]
            admin_socket = "\(admin)"
            [tls]
            certificate = "\(path("server.pem"))"
            private_key = "\(path("server.key"))"
            ca_bundle = "\(path("ca.pem"))"
            crl = "\(path("crl.pem"))"
            [log]
            level = "warning"
            [keys]
            master_secret = "\(path("master.key"))"
            \(extraConfig)
            """.write(toFile: path(config), atomically: true, encoding: .utf8)

        let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let process = Process()
        process.executableURL = bin.appendingPathComponent("linkcored")
        process.arguments = ["--config", path(config)]
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: admin) {
            try await Task.sleep(for: .milliseconds(20))
        }
        let connection = try await LinkcoreConnection.connect(to: .unix(path: admin), tls: nil, hello: nil)
        guard case let .status(status)? = try await connection.request(.statusRequest(LCStatusRequest())),
              let port = status.listenAddresses.first?.split(separator: ":").last.flatMap({ Int($0) }) else {
            process.terminate()
            throw BenchError(description: "the core reported no listen address (see \(logFile))")
        }
        return BenchCore(work: work, bin: bin, process: process, admin: connection, port: port, ownsWork: ownsWork)
    }

    private let ownsWork: Bool

    private init(work: URL, bin: URL, process: Process, admin: LinkcoreConnection, port: Int, ownsWork: Bool) {
        self.work = work; self.bin = bin; self.process = process; self.admin = admin; self.port = port; self.ownsWork = ownsWork
    }

    public func addOrg(_ code: String, name: String? = nil, role: LCRole = .agency, sector: LCSector = .public) async throws {
        _ = try await admin.request(.orgAdd(.with { $0.org = .with {
            $0.code = code; $0.name = name ?? code; $0.sector = sector; $0.role = role
        } }))
    }

    public func status() async throws -> LCStatus {
        guard case let .status(status)? = try await admin.request(.statusRequest(LCStatusRequest())) else {
            throw BenchError(description: "no status from the core")
        }
        return status
    }

    /// A client TLS context with an organisation's certificate from this bench's PKI.
    public func tls(_ org: String) throws -> TLSContext {
        try TLSContext.client(TLSConfiguration(certificateChainPath: path("\(org).pem"), privateKeyPath: path("\(org).key"),
                                               trustRootsPath: path("ca.pem"), serverName: "localhost"))
    }

    /// A connection to the core as `org`; with `incoming`, it takes the core's pushes.
    public func connect(_ org: String, incoming: IncomingRequestHandler? = nil) async throws -> LinkcoreConnection {
        try await LinkcoreConnection.connect(to: .tcp(host: "127.0.0.1", port: port), tls: try tls(org),
                                             hello: LinkcoreConnection.defaultHello(software: "bench", acceptsPushes: incoming != nil),
                                             incoming: incoming)
    }

    /// Stops the daemon and, for the first node, removes the scratch directory.
    public func stop() async {
        await admin.close()
        process.terminate()
        process.waitUntilExit()
        if ownsWork { try? FileManager.default.removeItem(at: work) }
    }
}

public func say(_ text: String) { FileHandle.standardError.write(Data("==> \(text)\n".utf8)) }

public struct BenchError: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// Issues a link for `resident` to `org` through the matcher connection and returns its link
/// code as `org` fetches it: how every mediation benchmark sets up its residents.
public func issueAndFetchLink(matcher: LinkcoreConnection, org: String, connection: LinkcoreConnection,
                              resident: String) async throws -> String {
    let number = "\(org)-\(resident)"
    _ = try await matcher.request(.issueLink(.with {
        $0.residentCode = resident; $0.orgCode = org; $0.matchingNumber = number
        $0.expiresAtMs = Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000
    }))
    guard case let .fetchLinkResponse(fetched)? = try await connection.request(.fetchLink(.with { $0.matchingNumber = number })) else {
        throw BenchError(description: "no link for \(org)")
    }
    return fetched.link.linkCode
}
