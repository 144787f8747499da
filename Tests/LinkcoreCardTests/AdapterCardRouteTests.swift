import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LinkcorePKI
import LinkcoreTestSupport
import Testing

/// The adapter's card routes with a real `linkcore-adapter` process: POST /card/challenge, the
/// card signs on its SoftHSM2 token (`linkcore-card sign`), POST /card/verify checks it with the
/// status from `openssl ocsp` or the card authority's CRL. The core is not running: the local API
/// answers without it, and card logins do not involve it.
@Suite("Adapter card login routes")
struct AdapterCardRouteTests {
    /// A `linkcore-adapter run` child with an optional `[card]` table.
    final class Adapter: Sendable {
        let process: ChildProcess
        let directory: String
        let port: Int

        init(directory: String, card: [String]?) async throws {
            self.directory = directory
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let pki = try TestPKI(directory: URL(fileURLWithPath: directory + "/pki"))
            try pki.issueOrg("BANK01")
            let adapter = Tools.productsDirectory.appendingPathComponent("linkcore-adapter").path
            let dataset = directory + "/answers.sqlite"
            guard try await runProcess(adapter, ["dataset", "--db", dataset], environment: [:]).status == 0 else { throw CardTestFailure("dataset") }
            var toml = """
                [adapter]
                org_code = "BANK01"
                database = "\(directory)/adapter.sqlite"
                [core]
                address = "127.0.0.1:\(try freeLoopbackPort())"
                server_name = "localhost"
                certificate = "\(pki.path("BANK01.pem"))"
                private_key = "\(pki.path("BANK01.key"))"
                ca_bundle = "\(pki.caPath)"
                [api]
                listen = "127.0.0.1:0"
                [backend]
                kind = "dataset"
                dataset = "\(dataset)"

                """
            if let card { toml += "[card]\n" + card.joined(separator: "\n") + "\n" }
            try toml.write(toFile: directory + "/adapter.toml", atomically: true, encoding: .utf8)
            let log = directory + "/adapter.log"
            process = ChildProcess(executable: adapter, arguments: ["run", "--config", directory + "/adapter.toml"],
                                   environment: ["PATH": "/usr/bin:/bin"], outputPath: log)
            try process.run()
            let started = process
            do {
                port = try await waitFor("the adapter did not report its API port") {
                    let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                    if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("api 127.0.0.1:") }) {
                        return Int(line.split(separator: ":").last ?? "")
                    }
                    guard started.isRunning else { throw CardTestFailure("the adapter exited:\n\(text)") }
                    return nil
                }
            } catch {
                started.killAndReapInBackground()
                throw error
            }
        }

        func stop() { process.killAndReapInBackground() }

        /// POST `path` with a JSON body; the HTTP status and the JSON object answered.
        func post(_ path: String, _ body: [String: String]) async throws -> (Int, [String: Any]) {
            let token = try String(contentsOfFile: directory + "/api-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            var request = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)\(path)")))
            request.httpMethod = "POST"
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.timeoutInterval = 60
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
        }

        /// The challenge's bytes, from POST /card/challenge.
        func challenge() async throws -> [UInt8] {
            let (status, body) = try await post("/card/challenge", [:])
            #expect(status == 200, "\(body)")
            #expect(body["service"] as? String == "BANK01")
            let hex = try #require(body["challenge_hex"] as? String)
            #expect(body["challenge_text"] as? String == String(decoding: try #require(hexBytes(hex)), as: UTF8.self))
            return try #require(hexBytes(hex))
        }
    }

    static func errorCode(_ body: [String: Any]) -> String? { (body["error"] as? [String: Any])?["code"] as? String }

    func verify(_ adapter: Adapter, _ challenge: [UInt8], _ signature: [UInt8], _ certificate: String) async throws -> (Int, [String: Any]) {
        try await adapter.post("/card/verify", ["challenge_hex": hexString(challenge), "signature_hex": hexString(signature),
                                                "certificate_pem": certificate])
    }

    @Test func aCardLoginThroughTheAdapterWithOCSPAndItsRefusals() async throws {
        let setup = try await CardStatusTests.Setup()
        defer { setup.cleanup() }
        let responder = try await OpenSSLResponder.start(directory: setup.dir, lines: [.valid(serial: setup.serial)], ca: setup.ca,
                                                         signer: setup.ca, key: setup.caKey)
        defer { responder.stop() }
        let adapter = try await Adapter(directory: setup.issued.card.directory + "/adapter",
                                        card: ["ca = \"\(setup.ca)\"", "ocsp_url = \"\(responder.url.absoluteString)\""])
        defer { adapter.stop() }

        let challenge = try await adapter.challenge()
        let signature = try await CardLoginTests().sign(setup.issued, challenge)
        // A signature certificate presented for login, and bytes that are not hex: refused, and
        // the challenge stays good.
        let bySignatureKey = try await CardLoginTests().sign(setup.issued, challenge, app: "sign", raw: true)
        let (refusedStatus, refused) = try await verify(adapter, challenge, bySignatureKey, setup.issued.signaturePEM)
        #expect(refusedStatus == 422 && Self.errorCode(refused) == "CARD_SIGNATURE_CERTIFICATE", "\(refused)")
        let (badStatus, bad) = try await adapter.post("/card/verify", ["challenge_hex": "zz", "signature_hex": hexString(signature),
                                                                       "certificate_pem": setup.issued.userPEM])
        #expect(badStatus == 400 && Self.errorCode(bad) == "INVALID_ARGUMENT", "\(bad)")

        let (status, login) = try await verify(adapter, challenge, signature, setup.issued.userPEM)
        #expect(status == 200, "\(login)")
        #expect(login["serial"] as? String == setup.serial)
        #expect(login["status"] as? String == "good")
        #expect(login["status_source"] as? String == "ocsp")
        let (replayStatus, replay) = try await verify(adapter, challenge, signature, setup.issued.userPEM)
        #expect(replayStatus == 422 && Self.errorCode(replay) == "CARD_UNKNOWN_CHALLENGE", "\(replay)")
    }

    @Test func withTheResponderDownTheCRLDecidesAndWithoutItTheLoginFailsClosed() async throws {
        let setup = try await CardStatusTests.Setup()
        defer { setup.cleanup() }
        let crl = setup.dir + "/card.crl"
        let adapter = try await Adapter(directory: setup.issued.card.directory + "/adapter", card: [
            "ca = \"\(setup.ca)\"", "ocsp_url = \"http://127.0.0.1:\(try freeLoopbackPort())/\"", "crl = \"\(crl)\"",
        ])
        defer { adapter.stop() }
        let authority = try CertificateAuthority(certificatePEM: setup.issued.caPEM,
                                                 privateKeyPEM: try String(contentsOfFile: setup.caKey, encoding: .utf8))
        let challenge = try await adapter.challenge()
        let signature = try await CardLoginTests().sign(setup.issued, challenge)

        // No CRL published yet: no status at all.
        let (noneStatus, none) = try await verify(adapter, challenge, signature, setup.issued.userPEM)
        #expect(noneStatus == 503 && Self.errorCode(none) == "CARD_STATUS_UNAVAILABLE", "\(none)")
        #expect((none["error"] as? [String: Any])?["retryable"] as? Bool == true)
        // The CRL lists the certificate.
        try authority.makeCRL(revokedSerials: [setup.serial], nextUpdateDays: 1).write(toFile: crl, atomically: true, encoding: .utf8)
        let (revokedStatus, revoked) = try await verify(adapter, challenge, signature, setup.issued.userPEM)
        #expect(revokedStatus == 422 && Self.errorCode(revoked) == "CARD_REVOKED", "\(revoked)")
        // A fresh CRL without it: logged in, from the CRL.
        try authority.makeCRL(revokedSerials: [], nextUpdateDays: 1).write(toFile: crl, atomically: true, encoding: .utf8)
        let (status, login) = try await verify(adapter, challenge, signature, setup.issued.userPEM)
        #expect(status == 200, "\(login)")
        #expect(login["serial"] as? String == setup.serial)
        #expect(login["status_source"] as? String == "crl")
    }

    @Test func withoutACardTableTheRoutesSaySo() async throws {
        let directory = NSTemporaryDirectory() + "linkcore-card-adapter-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let adapter = try await Adapter(directory: directory, card: nil)
        defer { adapter.stop() }
        let (status, body) = try await adapter.post("/card/challenge", [:])
        #expect(status == 404 && Self.errorCode(body) == "CARD_NOT_CONFIGURED", "\(body)")
        let (verifyStatus, verifyBody) = try await adapter.post("/card/verify", ["challenge_hex": "00", "signature_hex": "00", "certificate_pem": "x"])
        #expect(verifyStatus == 404 && Self.errorCode(verifyBody) == "CARD_NOT_CONFIGURED", "\(verifyBody)")
    }
}

func hexString(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

func hexBytes(_ hex: String) -> [UInt8]? {
    let digits = Array(hex.utf8)
    guard digits.count % 2 == 0 else { return nil }
    return stride(from: 0, to: digits.count, by: 2).compactMap { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16) }
}
