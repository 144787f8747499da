import Foundation
import LinkcoreCardVerifier
import LinkcorePKI
import LinkcoreTestSupport
import LinkcoreWire

/// A real number card for the link-by-card tests: two SoftHSM2 tokens made by the test, key pairs
/// generated on them (`linkcore-card personalise`), certificates issued from the registry by a
/// fresh card authority (`linkcore-jpki ca-init`, `issue`). Every card operation is a child
/// process with SOFTHSM2_CONF in the child's environment only (docs/card.md).
struct TestCard {
    static let signPIN = "abc123XYZ"
    static let authPIN = "1234"
    static let label = "CARD01"

    let directory: URL
    var authority: String { directory.appendingPathComponent("jpki").path }
    var caPath: String { authority + "/ca.pem" }
    /// The card authority's CRL (`linkcore-jpki crl`): the matcher's status source in these tests.
    var crlPath: String { authority + "/crl.pem" }
    var environment: [String: String] {
        ["SOFTHSM2_CONF": directory.appendingPathComponent("softhsm2.conf").path,
         "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
    }

    struct Output {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Makes the tokens, personalises them and has the card authority issue the card to `resident`
    /// of the registry at `registryPath`.
    static func issue(in directory: URL, registryPath: String, resident: String) async throws -> TestCard {
        let card = TestCard(directory: directory)
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("tokens"), withIntermediateDirectories: true)
        try "directories.tokendir = \(directory.path)/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
            .write(to: directory.appendingPathComponent("softhsm2.conf"), atomically: true, encoding: .utf8)
        for (suffix, pin) in [("-SIG", signPIN), ("-AUTH", authPIN)] {
            try await card.expectSuccess("/usr/bin/softhsm2-util", [
                "--init-token", "--free", "--label", label + suffix, "--so-pin", "so-secret-1", "--pin", pin])
        }
        try await card.expectSuccess(Products.path("linkcore-card"), ["personalise"] + card.cardArguments, stdin: "\(signPIN)\n\(authPIN)\n")
        try await card.expectSuccess(Products.path("linkcore-jpki"), ["ca-init", "--dir", card.authority])
        try await card.expectSuccess(Products.path("linkcore-jpki"), [
            "issue", "--dir", card.authority, "--registry", registryPath, "--resident", resident, "--card", label,
            "--module", "/usr/lib/softhsm/libsofthsm2.so",
        ], stdin: "\(signPIN)\n\(authPIN)\n")
        try await card.publishCRL()
        return card
    }

    /// Publishes the card authority's CRL now (as its daily unit does, or an operator on demand).
    func publishCRL() async throws {
        try await expectSuccess(Products.path("linkcore-jpki"), ["crl", "--dir", authority])
    }

    var cardArguments: [String] { ["--card", Self.label, "--module", "/usr/lib/softhsm/libsofthsm2.so"] }

    /// `linkcore-card consent --requester`: the consent text, signed on the card, and its certificate.
    func consent(requester: String) async throws -> LCCardConsent {
        let out = try await expectSuccess(Products.path("linkcore-card"), ["consent", "--requester", requester] + cardArguments,
                                          stdin: "\(Self.signPIN)\n")
        let json = try JSONDecoder().decode([String: String].self, from: Data(out.stdout.utf8))
        guard let pem = json["certificate_pem"], let der = Self.der(pem: pem), let text = json["consent"],
              let signature = json["signature_hex"].flatMap(Self.bytes(hex:)) else { throw TestFailure("consent output: \(out.stdout)") }
        return .with {
            $0.signatureCertificate = Data(der)
            $0.consent = Data(text.utf8)
            $0.signature = Data(signature)
        }
    }

    /// The card signs `bytes` with the signature key (`sign`), or with the user authentication key.
    /// `--raw`: the tests sign bytes of their choosing (expired, altered, for the other key) to
    /// check the services' refusals, which `sign` would otherwise refuse before the PIN.
    func sign(_ bytes: [UInt8], authentication: Bool = false) async throws -> [UInt8] {
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let out = try await expectSuccess(Products.path("linkcore-card"),
                                          ["sign", "--app", authentication ? "auth" : "sign", "--challenge", hex, "--raw"] + cardArguments,
                                          stdin: (authentication ? Self.authPIN : Self.signPIN) + "\n")
        guard let signature = Self.bytes(hex: out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestFailure("sign output: \(out.stdout)")
        }
        return signature
    }

    /// The card's certificates as DER: "sign" and "auth".
    func certificates() async throws -> [String: [UInt8]] {
        let listed = try await expectSuccess(Products.path("linkcore-card"), ["certificates"] + cardArguments).stdout
        var out: [String: [UInt8]] = [:]
        for block in listed.components(separatedBy: "# ") where !block.isEmpty {
            let name = String(block.prefix { $0 != "\n" })
            out[name] = Self.der(pem: String(block.drop { $0 != "\n" }))
        }
        return out
    }

    /// The signature key's SubjectPublicKeyInfo (DER), for certificates the test issues itself.
    func signaturePublicKey() async throws -> [UInt8] {
        let pem = try await expectSuccess(Products.path("linkcore-card"), ["public-key", "--app", "sign"] + cardArguments).stdout
        guard let der = Self.der(pem: pem, label: "PUBLIC KEY") else { throw TestFailure("public key: \(pem)") }
        return der
    }

    /// The card authority's own CA, loaded in process to issue certificates no command would
    /// (expired, for someone not in the registry).
    func authorityCA() throws -> CertificateAuthority {
        try CertificateAuthority(certificatePEM: try String(contentsOfFile: caPath, encoding: .utf8),
                                 privateKeyPEM: try String(contentsOfFile: authority + "/ca.key", encoding: .utf8))
    }

    /// A signature certificate's subject, as `linkcore-jpki` writes it.
    static func subject(name: String, address: String, dateOfBirth: String, gender: String) -> [(String, String)] {
        [("C", "JP"), ("CN", name), ("street", address), ("1.3.6.1.5.5.7.9.1", dateOfBirth), ("1.3.6.1.5.5.7.9.3", gender)]
    }

    static func der(pem: String, label: String = "CERTIFICATE") -> [UInt8]? {
        guard let start = pem.range(of: "-----BEGIN \(label)-----"), let end = pem.range(of: "-----END \(label)-----") else { return nil }
        return Data(base64Encoded: String(pem[start.upperBound..<end.lowerBound].filter { !$0.isWhitespace })).map(Array.init)
    }

    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        return try? stride(from: 0, to: digits.count, by: 2).map { i throws -> UInt8 in
            guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { throw TestFailure("hex") }
            return byte
        }
    }

    @discardableResult
    func expectSuccess(_ executable: String, _ arguments: [String], stdin: String = "") async throws -> Output {
        let out = try await run(executable, arguments, stdin: stdin)
        guard out.status == 0 else { throw TestFailure("\(executable) \(arguments.first ?? ""): exit \(out.status)\n\(out.stderr)") }
        return out
    }

    /// Runs a card tool to its end off the cooperative pool, with `stdin` (PINs) and this card's environment.
    func run(_ executable: String, _ arguments: [String], stdin: String = "") async throws -> Output {
        let environment = environment
        let errPath = directory.appendingPathComponent("stderr-\(UUID().uuidString)").path
        return try await offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.environment = SanitizerEnvironment.adding(to: environment)
            // stderr into a file: the child never blocks on a second full pipe while stdout is read.
            _ = FileManager.default.createFile(atPath: errPath, contents: nil)
            defer { try? FileManager.default.removeItem(atPath: errPath) }
            guard let errHandle = FileHandle(forWritingAtPath: errPath) else { throw TestFailure("cannot open \(errPath)") }
            let out = Pipe(), input = Pipe()
            process.standardOutput = out
            process.standardError = errHandle
            process.standardInput = input
            try process.run()
            try errHandle.close()
            input.fileHandleForWriting.feed(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
            let stdout = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                          stderr: String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self))
        }
    }
}
