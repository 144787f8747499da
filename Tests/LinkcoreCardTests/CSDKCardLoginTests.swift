import Foundation
import LinkcoreCardVerifier
import LinkcoreTestSupport
import Testing

/// sdk/c/examples/card_login.c: the same login verified by a C service with OpenSSL alone, built
/// by the SDK's Makefile, against a real card's signature and the stock `openssl ocsp` responder.
@Suite("C SDK card login example")
struct CSDKCardLoginTests {
    static let sdk = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("sdk/c").path

    @Test func theCExampleVerifiesALoginAndRefusesARevokedCertificate() async throws {
        let setup = try await CardStatusTests.Setup()
        defer { setup.cleanup() }
        let build = setup.issued.card.directory + "/sdk-build"
        let made = try await runProcess(Tools.which("make"), ["-C", Self.sdk, "BUILD=\(build)", "\(build)/card_login"], environment: [:])
        #expect(made.status == 0, "\(made.stdout)\(made.stderr)")

        let good = try await OpenSSLResponder.start(directory: setup.dir, lines: [.valid(serial: setup.serial)], ca: setup.ca,
                                                    signer: setup.ca, key: setup.caKey)
        defer { good.stop() }
        let revoked = try await OpenSSLResponder.start(directory: setup.dir, lines: [.revoked(serial: setup.serial, reason: "keyCompromise")],
                                                       ca: setup.ca, signer: setup.ca, key: setup.caKey)
        defer { revoked.stop() }

        // The challenge as the Swift verifier issues it (the bytes are the contract), signed on the card.
        let challenge = CardLoginVerifier(service: "BANK01", cardCAPEM: setup.issued.caPEM).issueChallenge()
        let files = setup.issued.card.directory
        try Data(challenge.bytes).write(to: URL(fileURLWithPath: files + "/challenge"))
        try await Data(try setup.sign(challenge)).write(to: URL(fileURLWithPath: files + "/signature"))
        try setup.issued.userPEM.write(toFile: files + "/user.pem", atomically: true, encoding: .utf8)
        try setup.issued.signaturePEM.write(toFile: files + "/signature-cert.pem", atomically: true, encoding: .utf8)
        func login(url: URL, service: String = "BANK01", cert: String = "user.pem") async throws -> Run {
            try await runProcess(build + "/card_login", [
                "--service", service, "--challenge", files + "/challenge", "--signature", files + "/signature",
                "--cert", files + "/" + cert, "--ca", setup.ca, "--ocsp-url", url.absoluteString,
            ], environment: [:])
        }

        let ok = try await login(url: good.url)
        #expect(ok.status == 0 && ok.stdout == "login: serial=\(setup.serial) status=good\n", "\(ok.stdout)\(ok.stderr)")
        let other = try await login(url: good.url, service: "SHOP02")
        #expect(other.status == 1 && other.stdout == "refused: challenge issued to another service\n", "\(other.stdout)")
        let signatureCert = try await login(url: good.url, cert: "signature-cert.pem")
        #expect(signatureCert.status == 1 && signatureCert.stdout == "refused: a signature certificate cannot log in\n", "\(signatureCert.stdout)")
        let gone = try await login(url: revoked.url)
        #expect(gone.status == 1 && gone.stdout == "refused: certificate revoked\n", "\(gone.stdout)")
        let down = try await login(url: try #require(URL(string: "http://127.0.0.1:\(try freeLoopbackPort())/")))
        #expect(down.status == 1 && down.stdout == "refused: status unavailable (responder unreachable)\n", "\(down.stdout)")
    }
}
