import Foundation
import LinkcoreJPKI
import LinkcorePKI
import LinkcoreTestSupport

/// A card CA, its delegated OCSP signer and leaves, as files in a temporary directory, plus the
/// stock `openssl ocsp` as the independent client and checker.
struct OCSPFixture {
    let directory: TempDirectory
    let ca: CertificateAuthority
    var path: String { directory.path }

    /// A fresh CA and signer, or (`dir` given) the CA that `linkcore-jpki ca-init` wrote there.
    init(directory: TempDirectory? = nil) throws {
        self.directory = try directory ?? TempDirectory()
        if FileManager.default.fileExists(atPath: self.directory.path + "/ca.key") {
            ca = try CertificateAuthority(certificatePEM: try String(contentsOfFile: self.directory.path + "/ca.pem", encoding: .utf8),
                                          privateKeyPEM: try String(contentsOfFile: self.directory.path + "/ca.key", encoding: .utf8))
        } else {
            ca = try CertificateAuthority.create(commonName: "test card CA", validDays: 3650)
            try self.directory.write("ca.pem", ca.certificate.certificatePEM)
        }
    }

    /// A certificate of this CA, written to `<name>.pem`.
    func leaf(_ name: String) throws -> PEMCertificate {
        let issued = try ca.issueClient(commonName: name, sanURIs: [], notBefore: Date().addingTimeInterval(-60),
                                        notAfter: Date().addingTimeInterval(86_400 * 365))
        try directory.write("\(name).pem", issued.certificatePEM)
        return issued
    }

    func openssl(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await runToExit("/usr/bin/openssl", arguments, outputDirectory: directory.url)
    }

    /// `openssl ocsp -reqout`: the DER request for `<name>.pem` (with a nonce unless `nonce` is false).
    func request(for names: [String], nonce: Bool = true) async throws -> [UInt8] {
        let out = path + "/request-\(UUID().uuidString.prefix(6)).der"
        var arguments = ["ocsp", "-issuer", path + "/ca.pem", "-reqout", out] + (nonce ? [] : ["-no_nonce"])
        for name in names { arguments += ["-cert", path + "/\(name).pem"] }
        let made = try await openssl(arguments)
        guard made.status == 0 else { throw TestFailure("openssl ocsp -reqout: \(made.output)") }
        return Array(try Data(contentsOf: URL(fileURLWithPath: out)))
    }

    /// `openssl ocsp -respin … -resp_text`: what the stock client makes of a response for `name`,
    /// verified against the CA file alone (the signer must come from the response). `-no_nonce`:
    /// the request openssl builds here from -cert is not the one answered, so its own fresh nonce
    /// could only mismatch; the nonce is checked against the real request by the callers.
    func check(_ response: [UInt8], for name: String) async throws -> String {
        let file = path + "/response-\(UUID().uuidString.prefix(6)).der"
        try Data(response).write(to: URL(fileURLWithPath: file))
        return try await openssl(["ocsp", "-respin", file, "-issuer", path + "/ca.pem", "-cert", path + "/\(name).pem",
                                  "-CAfile", path + "/ca.pem", "-resp_text", "-no_nonce"]).output
    }
}

/// Statuses held in memory, for the responder alone (tests only; the service reads the store).
struct MemoryStatusSource: CertificateStatusSource {
    var statuses: [String: CertificateStatus] = [:]
    var failing = false

    struct Unavailable: Error {}

    func status(serialHex: String) throws -> CertificateStatus {
        if failing { throw Unavailable() }
        return statuses[serialHex.uppercased()] ?? .unknown
    }

    func revokedCertificates() throws -> [(serialHex: String, at: Date, reason: RevocationReason)] {
        statuses.compactMap { serial, status in
            guard case .revoked(let at, let reason) = status else { return nil }
            return (serial, at, reason)
        }
    }
}

/// A "This Update: Dec  7 06:30:00 2026 GMT" style line of `openssl ocsp -resp_text`, as a date.
func opensslDate(after label: String, in text: String) -> Date? {
    guard let line = text.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }) else {
        return nil
    }
    let value = line.trimmingCharacters(in: .whitespaces).dropFirst(label.count)
        .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "MMM d HH:mm:ss yyyy 'GMT'"
    return formatter.date(from: value)
}
