// The one PKI fixture of the tests: a real CA made with LinkcorePKI and the certificates, keys
// and CRL a test asks for, as PEM files in a directory (TLS, transport, integration tests).

import Foundation
import LinkcorePKI
import LinkcoreTLS

/// PEM paths of a certificate (chain) and key.
public struct TestIdentity: Sendable {
    public var certificatePath: String
    public var keyPath: String
}

/// A CA and what it issued, on disk under `directory`: `ca.pem`, `<name>.pem` / `<name>.key`,
/// `crl.pem`. Every "now" comes from `now` (the system clock unless a test injects one).
public struct TestPKI: Sendable {
    public static let caName = "linkcore test CA"

    public let directory: URL
    public let ca: CertificateAuthority
    public var now: @Sendable () -> Date { ca.now }

    /// A CA valid for `caDays`, written to `ca.pem`; with `server`, also `server.pem`/`.key`
    /// (localhost, 127.0.0.1) and an empty `crl.pem`, what a daemon under test is started with.
    public init(directory: URL, caName: String = TestPKI.caName, caDays: Int = 60, server: Bool = true,
                now: @escaping @Sendable () -> Date = { Date() }) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        ca = try CertificateAuthority.create(commonName: caName, validDays: caDays, now: now)
        try write("ca.pem", ca.certificate.certificatePEM)
        if server {
            try issueServer(name: "server")
            try writeCRL(revoking: [])
        }
    }

    /// A fresh directory under the temporary directory (removed by the caller or never: a test
    /// process's throwaway PKI is small).
    public static func temporaryDirectory(_ prefix: String) -> URL {
        URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    }

    public func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    public var caPath: String { path("ca.pem") }
    public var crlPath: String { path("crl.pem") }

    public func write(_ name: String, _ text: String) throws {
        try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    /// Writes `name`.pem and `name`.key.
    @discardableResult
    public func save(_ certificate: PEMCertificate, as name: String) throws -> TestIdentity {
        let identity = TestIdentity(certificatePath: path("\(name).pem"), keyPath: path("\(name).key"))
        try write("\(name).pem", certificate.certificatePEM)
        try write("\(name).key", certificate.privateKeyPEM)
        return identity
    }

    /// A server certificate for localhost / 127.0.0.1, saved as `name`.pem/.key.
    @discardableResult
    public func issueServer(name: String, validDays: Int = 30) throws -> PEMCertificate {
        let server = try ca.issueServer(commonName: "localhost", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validDays: validDays)
        try save(server, as: name)
        return server
    }

    /// An organisation certificate for `code`, saved as `code`.pem/.key.
    @discardableResult
    public func issueOrg(_ code: String, validDays: Int = 30) throws -> PEMCertificate {
        let cert = try ca.issueOrganisation(code: code, name: "Org \(code)", validDays: validDays)
        try save(cert, as: code)
        return cert
    }

    /// A client certificate with any SAN URIs, valid from `from` to `to` seconds around now (either
    /// may be in the past or the future); not saved.
    public func client(_ commonName: String, uris: [String], from: TimeInterval = -60, to: TimeInterval = 20 * 86_400) throws -> PEMCertificate {
        let now = now()
        return try ca.issueClient(commonName: commonName, sanURIs: uris,
                                  notBefore: now.addingTimeInterval(from), notAfter: now.addingTimeInterval(to))
    }

    /// Writes `crl.pem` revoking `serials` (next update in a week).
    public func writeCRL(revoking serials: [String]) throws {
        try write("crl.pem", try ca.makeCRL(revokedSerials: serials, nextUpdateDays: 7))
    }

    /// A client TLS context presenting `name`.pem/.key (or no certificate when nil), trusting `ca.pem`.
    public func clientTLS(_ name: String?) throws -> TLSContext {
        try TLSContext.client(TLSConfiguration(
            certificateChainPath: name.map { path("\($0).pem") },
            privateKeyPath: name.map { path("\($0).key") },
            trustRootsPath: path("ca.pem"),
            serverName: "localhost"))
    }
}
