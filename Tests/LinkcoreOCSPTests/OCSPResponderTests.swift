import Foundation
import LinkcoreJPKI
import LinkcoreOCSP
import LinkcorePKI
import LinkcoreTestSupport
import Testing

/// `OCSPResponder` in process, with statuses held in memory; every answer is read back by the
/// stock `openssl ocsp` client (-respin), which also verifies the signature through the delegated
/// signer against the CA certificate alone.
@Suite("OCSP responder (request DER in, response DER out)")
struct OCSPResponderTests {
    /// A responder over `source` with a fixed clock (whole seconds: the response carries no less).
    func responder(_ fixture: OCSPFixture, _ source: MemoryStatusSource, at now: Date, validity: Duration = .seconds(600),
                   signer: PEMCertificate? = nil) throws -> OCSPResponder {
        let signer = try signer ?? fixture.ca.issueOCSPSigner(commonName: "test OCSP signer", validDays: 30)
        return try OCSPResponder(caCertificatePEM: fixture.ca.certificate.certificatePEM, signerCertificatePEM: signer.certificatePEM,
                                 signerKeyPEM: signer.privateKeyPEM, source: source, validity: validity, clock: { now })
    }

    static var now: Date { Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)) }

    @Test func goodRevokedWithReasonAndUnknownAsTheSourceSaysWithThisAndNextUpdate() async throws {
        let fixture = try OCSPFixture()
        let good = try fixture.leaf("good")
        let revoked = try fixture.leaf("revoked")
        let held = try fixture.leaf("held")
        _ = try fixture.leaf("unrecorded")
        let now = Self.now
        let revokedAt = now.addingTimeInterval(-3600)
        let source = MemoryStatusSource(statuses: [
            good.serialHex: .good,
            revoked.serialHex: .revoked(at: revokedAt, reason: .affiliationChanged),
            held.serialHex: .revoked(at: revokedAt, reason: .certificateHold),
        ])
        let responder = try responder(fixture, source, at: now, validity: .seconds(900))

        let expected = ["good": "good", "revoked": "revoked", "held": "revoked", "unrecorded": "unknown"]
        for (name, status) in expected {
            let answer = responder.respond(to: try await fixture.request(for: [name]))
            #expect(answer.status == .successful)
            #expect(answer.nextUpdate == now.addingTimeInterval(900))
            let text = try await fixture.check(answer.der, for: name)
            #expect(text.contains("Response verify OK"), "\(text)")
            #expect(text.contains("\(fixture.path)/\(name).pem: \(status)\n"), "\(text)")
            #expect(opensslDate(after: "This Update:", in: text) == now, "\(text)")
            #expect(opensslDate(after: "Next Update:", in: text) == now.addingTimeInterval(900), "\(text)")
            // Signed by the delegated signer, named by its key hash, its certificate included.
            #expect(text.contains("Responder Id: "), "\(text)")
            #expect(text.contains("CN=test OCSP signer") || text.contains("CN = test OCSP signer"), "\(text)")
        }
        let revokedText = try await fixture.check(responder.respond(to: try await fixture.request(for: ["revoked"])).der, for: "revoked")
        #expect(revokedText.contains("Reason: affiliationChanged"), "\(revokedText)")
        #expect(opensslDate(after: "Revocation Time:", in: revokedText) == revokedAt, "\(revokedText)")
        let heldText = try await fixture.check(responder.respond(to: try await fixture.request(for: ["held"])).der, for: "held")
        #expect(heldText.contains("Reason: certificateHold"), "\(heldText)")
    }

    @Test func theNonceIsEchoedAndAbsentWhenTheRequestHasNone() async throws {
        let fixture = try OCSPFixture()
        let good = try fixture.leaf("good")
        let responder = try responder(fixture, MemoryStatusSource(statuses: [good.serialHex: .good]), at: Self.now)
        let request = try await fixture.request(for: ["good"])
        let withNonce = try await fixture.check(responder.respond(to: request).der, for: "good")
        // The request's nonce (an OCTET STRING of 16 random bytes) comes back byte for byte.
        let requestFile = fixture.path + "/nonce-request.der"
        try Data(request).write(to: URL(fileURLWithPath: requestFile))
        let requestText = try await fixture.openssl(["ocsp", "-reqin", requestFile, "-req_text"]).output
        let nonce = try #require(Self.nonce(in: requestText))
        #expect(Self.nonce(in: withNonce) == nonce, "\(withNonce)")

        let withoutNonce = try await fixture.check(responder.respond(to: try await fixture.request(for: ["good"], nonce: false)).der,
                                                   for: "good")
        #expect(withoutNonce.contains("Response verify OK"))
        #expect(!withoutNonce.contains("OCSP Nonce"), "\(withoutNonce)")
    }

    /// The hex line after "OCSP Nonce:" in openssl's text.
    static func nonce(in text: String) -> String? {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let index = lines.firstIndex(where: { $0.hasPrefix("OCSP Nonce:") }), index + 1 < lines.count else { return nil }
        return lines[index + 1]
    }

    @Test func bytesThatAreNotOneRequestGetMalformedRequest() async throws {
        let fixture = try OCSPFixture()
        let good = try fixture.leaf("good")
        let responder = try responder(fixture, MemoryStatusSource(statuses: [good.serialHex: .good]), at: Self.now)
        let request = try await fixture.request(for: ["good"])
        let inputs: [[UInt8]] = [
            [], Array("GET / HTTP/1.1\r\n".utf8), [0x30], [0x30, 0x80, 0x00, 0x00], Array(request.dropLast(3)), request + [0x00],
            (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) },
        ]
        for input in inputs {
            let answer = responder.respond(to: input)
            #expect(answer.status == .malformedRequest)
            #expect(answer.der == [0x30, 0x03, 0x0A, 0x01, 0x01])
            #expect(answer.nextUpdate == nil)
        }
        let text = try await fixture.check(responder.respond(to: []).der, for: "good")
        #expect(text.contains("Responder Error: malformedrequest (1)"), "\(text)")
    }

    @Test func anotherCAsCertificateIsNotThisRespondersQuestion() async throws {
        let fixture = try OCSPFixture()
        let good = try fixture.leaf("good")
        let other = try OCSPFixture()
        _ = try other.leaf("foreign")
        let responder = try responder(fixture, MemoryStatusSource(statuses: [good.serialHex: .good]), at: Self.now)
        // Asked only about another CA's certificate: unauthorized (RFC 6960 §2.3).
        let foreign = responder.respond(to: try await other.request(for: ["foreign"]))
        #expect(foreign.status == .unauthorized)
        #expect(try await other.check(foreign.der, for: "foreign").contains("Responder Error: unauthorized (6)"))
        // Even with the card CA's own serial: the issuer hashes are the other CA's.
        try other.directory.write("good.pem", good.certificatePEM)
        let mixed = responder.respond(to: try await other.request(for: ["good"]))
        #expect(mixed.status == .unauthorized)
    }

    @Test func aStoreThatCannotAnswerGivesTryLater() async throws {
        let fixture = try OCSPFixture()
        _ = try fixture.leaf("good")
        let responder = try responder(fixture, MemoryStatusSource(failing: true), at: Self.now)
        let answer = responder.respond(to: try await fixture.request(for: ["good"]))
        #expect(answer.status == .tryLater)
        #expect(try await fixture.check(answer.der, for: "good").contains("Responder Error: trylater (3)"))
    }

    @Test func aSignerTheCardCADidNotDelegateIsRefusedAtStart() throws {
        let fixture = try OCSPFixture()
        let now = Self.now
        // A certificate of the card CA without id-kp-OCSPSigning.
        let plain = try fixture.ca.issueClient(commonName: "not a signer", sanURIs: [], notBefore: now, notAfter: now.addingTimeInterval(86_400))
        #expect(throws: OCSPSetupError.notDelegated("the signer certificate lacks extendedKeyUsage id-kp-OCSPSigning")) {
            try responder(fixture, MemoryStatusSource(), at: now, signer: plain)
        }
        // An OCSP signer of another CA.
        let stranger = try CertificateAuthority.create(commonName: "test card CA", validDays: 3650)
            .issueOCSPSigner(commonName: "stranger", validDays: 30)
        #expect(throws: OCSPSetupError.self) { try responder(fixture, MemoryStatusSource(), at: now, signer: stranger) }
        // The signer certificate with someone else's key.
        var mismatched = try fixture.ca.issueOCSPSigner(commonName: "signer", validDays: 30)
        mismatched.privateKeyPEM = try fixture.ca.issueOCSPSigner(commonName: "signer", validDays: 30).privateKeyPEM
        #expect(throws: OCSPSetupError.notDelegated("the signer key does not match the signer certificate")) {
            try responder(fixture, MemoryStatusSource(), at: now, signer: mismatched)
        }
        // Expired at the responder's clock.
        #expect(throws: OCSPSetupError.self) {
            try responder(fixture, MemoryStatusSource(), at: now.addingTimeInterval(86_400 * 31))
        }
    }
}
