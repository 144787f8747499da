import Foundation
import LinkcoreConfig
@testable import LinkcoreDaemon
import LinkcorePKI
import Logging

/// A core built in process from a config with temporary paths: a throwaway CA, server
/// certificate and CRL, a master secret and a state directory. No sockets, no process.
final class CoreFixture: @unchecked Sendable {   // immutable after init; the directory goes in deinit
    let directory: URL
    let configPath: String

    init(extra: [String] = []) throws {
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("linkcore-core-\(UUID().uuidString.prefix(8))")
        configPath = directory.appendingPathComponent("linkcored.toml").path
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("state"), withIntermediateDirectories: true)
        let ca = try CertificateAuthority.create(commonName: "linkcore unit CA", validDays: 60)
        let server = try ca.issueServer(commonName: "localhost", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validDays: 20)
        try write("ca.pem", ca.certificate.certificatePEM)
        try write("server.pem", server.certificatePEM)
        try write("server.key", server.privateKeyPEM)
        try write("crl.pem", try ca.makeCRL(revokedSerials: [], nextUpdateDays: 7))
        let secret = (0..<32).map { _ in UInt8.random(in: 0...255) }
        _ = FileManager.default.createFile(atPath: path("master.key"), contents: Data(secret), attributes: [.posixPermissions: 0o600])
        try write("linkcored.toml", Self.config(in: self, extra: extra))
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
    }

    static func config(in fixture: CoreFixture, extra: [String]) -> String {
        ([
            "[core]", "id = \"unit-core\"", "state_directory = \"\(fixture.path("state"))\"",
            "[listen]", "addresses = [\"127.0.0.1:0\"]", "admin_socket = \"\(fixture.path("run/admin.sock"))\"",
            "[tls]", "certificate = \"\(fixture.path("server.pem"))\"", "private_key = \"\(fixture.path("server.key"))\"",
            "ca_bundle = \"\(fixture.path("ca.pem"))\"", "crl = \"\(fixture.path("crl.pem"))\"",
            "[keys]", "master_secret = \"\(fixture.path("master.key"))\"",
        ] + extra).joined(separator: "\n") + "\n"
    }

    func makeCore() async throws -> CoreComponents {
        var logger = Logger(label: "core-fixture")
        logger.logLevel = .critical
        return try await CoreComponents(config: try DaemonConfig.load(path: configPath), logger: logger)
    }
}
