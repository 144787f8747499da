import Foundation
import LinkcoreCardVerifier
import LinkcorePKI
import LinkcoreTestSupport
import Testing

/// A card login checks the user certificate's status: the stock `openssl ocsp` responder as the
/// card authority's (signed by the card CA or a delegated signer), pre-signed answers served by a
/// canned responder for the bad cases, and the card authority's CRL when no responder answers.
@Suite("Card login status by OCSP and CRL")
struct CardStatusTests {
    /// A card issued by a fresh card authority, and what the responders need beside it.
    struct Setup {
        let issued: CardLoginTests.Issued
        let dir: String
        var ca: String { dir + "/ca.pem" }
        var caKey: String { dir + "/ca.key" }
        var serial: String { issued.userSerial }

        init() async throws {
            issued = try await CardLoginTests().issuedCard()
            dir = issued.card.directory + "/jpki"
        }

        func cleanup() { issued.card.cleanup() }

        /// A delegated OCSP signer certified by the card CA, with id-kp-OCSPSigning or without it.
        func delegatedSigner(ocspSigning: Bool) async throws -> (cert: String, key: String) {
            let name = ocspSigning ? "ocsp-signer" : "plain-signer"
            let ext = dir + "/\(name).ext"
            try ("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n" + (ocspSigning ? "extendedKeyUsage=OCSPSigning\n" : ""))
                .write(toFile: ext, atomically: true, encoding: .utf8)
            try await openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir + "/\(name).key",
                         "-out", dir + "/\(name).csr", "-subj", "/CN=card \(name)"], in: dir)
            try await openssl(["x509", "-req", "-in", dir + "/\(name).csr", "-CA", ca, "-CAkey", caKey, "-set_serial", "0x" + String(ocspSigning ? 0x0C5 : 0x0C6),
                         "-days", "30", "-extfile", ext, "-out", dir + "/\(name).pem"], in: dir)
            return (dir + "/\(name).pem", dir + "/\(name).key")
        }

        /// A DER OCSP answer made ahead of time by `openssl ocsp` for `serial`, with a nonce of its
        /// own request or none. Without the signer's certificate, so that it ends with its signature.
        func preSigned(serial: String, lines: [IndexLine], signer: String? = nil, key: String? = nil, nonce: Bool) async throws -> [UInt8] {
            let tag = UUID().uuidString.prefix(8)
            let index = dir + "/pre-\(tag).txt", request = dir + "/pre-\(tag).req", response = dir + "/pre-\(tag).resp"
            try lines.map(\.text).joined().write(toFile: index, atomically: true, encoding: .utf8)
            try await openssl(["ocsp", "-issuer", ca, "-serial", "0x" + serial, "-reqout", request] + (nonce ? [] : ["-no_nonce"]), in: dir)
            try await openssl(["ocsp", "-index", index, "-CA", ca, "-rsigner", signer ?? ca, "-rkey", key ?? caKey, "-reqin", request,
                         "-respout", response, "-nmin", "5", "-resp_no_certs"], in: dir)
            return Array(try Data(contentsOf: URL(fileURLWithPath: response)))
        }

        func verifier(_ transport: any OCSPTransport, url: URL?, crl: String? = nil, maxAge: TimeInterval = 300, clockSkew: TimeInterval = 60,
                      requireNonce: Bool = true, lifetime: TimeInterval = 120) -> CardLoginVerifier {
            CardLoginVerifier(
                service: "BANK01", cardCAPEM: issued.caPEM, challengeLifetime: lifetime,
                statusChecker: CardStatusChecker(
                    policy: CardStatusPolicy(ocspURL: url, crlPath: crl, maxStatusAge: maxAge, clockSkew: clockSkew, requireNonce: requireNonce),
                    transport: transport))
        }

        func sign(_ challenge: CardChallenge) async throws -> [UInt8] { try await CardLoginTests().sign(issued, challenge.bytes) }

        func login(_ verifier: CardLoginVerifier, _ challenge: CardChallenge, _ signature: [UInt8], now: Date = Date()) async throws(CardLoginError) -> VerifiedLogin {
            try await verifier.login(challenge: challenge.bytes, signature: signature, certificatePEM: issued.userPEM, now: now)
        }
    }

    /// `#expect` for an async typed refusal.
    func refused(_ expected: CardLoginError, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws(CardLoginError) -> VerifiedLogin) async {
        do throws(CardLoginError) {
            let login = try await body()
            Issue.record("logged in as \(login.serialHex), expected \(expected)", sourceLocation: sourceLocation)
        } catch {
            #expect(error == expected, sourceLocation: sourceLocation)
        }
    }

    func unavailable(sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws(CardLoginError) -> VerifiedLogin) async {
        do throws(CardLoginError) {
            let login = try await body()
            Issue.record("logged in as \(login.serialHex), expected statusUnavailable", sourceLocation: sourceLocation)
        } catch {
            guard case .statusUnavailable = error else { Issue.record("\(error), expected statusUnavailable", sourceLocation: sourceLocation); return }
        }
    }

    @Test func aGoodAnswerFromTheCardCAOrItsDelegatedSignerLogsIn() async throws {
        let setup = try await Setup()
        defer { setup.cleanup() }
        let byCA = try await OpenSSLResponder.start(directory: setup.dir, lines: [.valid(serial: setup.serial)], ca: setup.ca,
                                                    signer: setup.ca, key: setup.caKey)
        defer { byCA.stop() }
        let bank = setup.verifier(HTTPOCSPTransport(), url: byCA.url)
        let challenge = bank.issueChallenge()
        let signature = try await setup.sign(challenge)
        let login = try await setup.login(bank, challenge, signature)
        #expect(login.serialHex == setup.serial)
        #expect(login.status?.source == .ocsp)
        #expect(login.status?.nextUpdate != nil)
        await refused(.unknownOrReplayedChallenge) { () async throws(CardLoginError) in try await setup.login(bank, challenge, signature) }

        let signer = try await setup.delegatedSigner(ocspSigning: true)
        let delegated = try await OpenSSLResponder.start(directory: setup.dir, lines: [.valid(serial: setup.serial)], ca: setup.ca,
                                                         signer: signer.cert, key: signer.key)
        defer { delegated.stop() }
        let shop = setup.verifier(HTTPOCSPTransport(), url: delegated.url)
        let second = shop.issueChallenge()
        #expect(try await setup.login(shop, second, try setup.sign(second)).status?.source == .ocsp)
    }

    @Test func revokedAndSuspendedCertificatesAreRefusedWithoutUsingUpTheChallenge() async throws {
        let setup = try await Setup()
        defer { setup.cleanup() }
        let revoked = try await OpenSSLResponder.start(directory: setup.dir, lines: [.revoked(serial: setup.serial, reason: "keyCompromise")],
                                                       ca: setup.ca, signer: setup.ca, key: setup.caKey)
        defer { revoked.stop() }
        let held = try await OpenSSLResponder.start(directory: setup.dir,
                                                    lines: [.revoked(serial: setup.serial, reason: "certificateHold,holdInstructionReject")],
                                                    ca: setup.ca, signer: setup.ca, key: setup.caKey)
        defer { held.stop() }
        let good = try await OpenSSLResponder.start(directory: setup.dir, lines: [.valid(serial: setup.serial)], ca: setup.ca,
                                                    signer: setup.ca, key: setup.caKey)
        defer { good.stop() }

        let transport = SwitchableTransport(revoked.url)
        let bank = setup.verifier(transport, url: revoked.url)
        let challenge = bank.issueChallenge()
        let signature = try await setup.sign(challenge)
        await refused(.revoked(reason: 1)) { () async throws(CardLoginError) in try await setup.login(bank, challenge, signature) }
        transport.point(at: held.url)
        await refused(.suspended) { () async throws(CardLoginError) in try await setup.login(bank, challenge, signature) }
        // Resumed: the same challenge still logs in, once.
        transport.point(at: good.url)
        #expect(try await setup.login(bank, challenge, signature).serialHex == setup.serial)
        await refused(.unknownOrReplayedChallenge) { () async throws(CardLoginError) in try await setup.login(bank, challenge, signature) }
    }

    @Test func answersNotSignedByTheCardCAOrItsOCSPSignerAreRefused() async throws {
        let setup = try await Setup()
        defer { setup.cleanup() }
        // A signer the card CA certified, but not for OCSP (no id-kp-OCSPSigning).
        let plain = try await setup.delegatedSigner(ocspSigning: false)
        let notForOCSP = try await OpenSSLResponder.start(directory: setup.dir, lines: [.valid(serial: setup.serial)], ca: setup.ca,
                                                          signer: plain.cert, key: plain.key)
        defer { notForOCSP.stop() }
        // Another authority's key.
        let other = setup.issued.card.directory + "/other-ca"
        #expect(try await runProcess(CardLoginTests.jpki, ["ca-init", "--dir", other], environment: [:]).status == 0)
        let foreign = try await OpenSSLResponder.start(directory: setup.dir, lines: [.valid(serial: setup.serial)], ca: setup.ca,
                                                       signer: other + "/ca.pem", key: other + "/ca.key")
        defer { foreign.stop() }
        // A good answer whose signature was altered after signing (its last byte), and bytes that
        // are no OCSP answer at all.
        var altered = try await setup.preSigned(serial: setup.serial, lines: [.valid(serial: setup.serial)], nonce: false)
        let canned = try CannedResponder()
        defer { canned.stop() }
        let good = try await OpenSSLResponder.start(directory: setup.dir, lines: [.valid(serial: setup.serial)], ca: setup.ca,
                                                    signer: setup.ca, key: setup.caKey)
        defer { good.stop() }

        let transport = SwitchableTransport(notForOCSP.url)
        let bank = setup.verifier(transport, url: notForOCSP.url, requireNonce: false)
        let challenge = bank.issueChallenge()
        let signature = try await setup.sign(challenge)
        await refused(.unsignedOrBadlySignedStatus) { () async throws(CardLoginError) in try await setup.login(bank, challenge, signature) }
        transport.point(at: foreign.url)
        await refused(.unsignedOrBadlySignedStatus) { () async throws(CardLoginError) in try await setup.login(bank, challenge, signature) }
        transport.point(at: canned.url)
        altered[altered.count - 1] ^= 0x01
        canned.serve(altered)
        await refused(.unsignedOrBadlySignedStatus) { () async throws(CardLoginError) in try await setup.login(bank, challenge, signature) }
        canned.serve(Array("<html>not OCSP</html>".utf8))
        await refused(.unsignedOrBadlySignedStatus) { () async throws(CardLoginError) in try await setup.login(bank, challenge, signature) }
        transport.point(at: good.url)
        #expect(try await setup.login(bank, challenge, signature).serialHex == setup.serial)
    }

    @Test func answersForAnotherCertificateOrWithoutThisRequestsNonceAreRefused() async throws {
        let setup = try await Setup()
        defer { setup.cleanup() }
        let lines: [IndexLine] = [.valid(serial: setup.serial), .valid(serial: "0123")]
        let canned = try CannedResponder()
        defer { canned.stop() }
        let bank = setup.verifier(HTTPOCSPTransport(), url: canned.url)
        let challenge = bank.issueChallenge()
        let signature = try await setup.sign(challenge)

        canned.serve(try await setup.preSigned(serial: "0123", lines: lines, nonce: false))
        await refused(.statusForAnotherSerial) { () async throws(CardLoginError) in try await setup.login(bank, challenge, signature) }
        // An answer to someone else's request (its nonce), and one with no nonce.
        canned.serve(try await setup.preSigned(serial: setup.serial, lines: lines, nonce: true))
        await refused(.replayedStatus) { () async throws(CardLoginError) in try await setup.login(bank, challenge, signature) }
        let noNonce = try await setup.preSigned(serial: setup.serial, lines: lines, nonce: false)
        canned.serve(noNonce)
        await refused(.replayedStatus) { () async throws(CardLoginError) in try await setup.login(bank, challenge, signature) }

        // The responder does not know the certificate.
        let unknown = try await OpenSSLResponder.start(directory: setup.dir, lines: [.valid(serial: "0123")], ca: setup.ca,
                                                       signer: setup.ca, key: setup.caKey)
        defer { unknown.stop() }
        let strict = setup.verifier(HTTPOCSPTransport(), url: unknown.url)
        let strictChallenge = strict.issueChallenge()
        let strictSignature = try await setup.sign(strictChallenge)
        await refused(.unknownStatus) { () async throws(CardLoginError) in try await setup.login(strict, strictChallenge, strictSignature) }

        // A verifier configured for a responder that pre-signs accepts the fresh answer without a nonce.
        let lenient = setup.verifier(HTTPOCSPTransport(), url: canned.url, requireNonce: false)
        let lenientChallenge = lenient.issueChallenge()
        #expect(try await setup.login(lenient, lenientChallenge, try setup.sign(lenientChallenge)).serialHex == setup.serial)
    }

    @Test func staleAnswersAreRefused() async throws {
        let setup = try await Setup()
        defer { setup.cleanup() }
        let noNextUpdate = try await OpenSSLResponder.start(directory: setup.dir, lines: [.valid(serial: setup.serial)], ca: setup.ca,
                                                            signer: setup.ca, key: setup.caKey, nextUpdateMinutes: nil)
        defer { noNextUpdate.stop() }
        let oneMinute = try await OpenSSLResponder.start(directory: setup.dir, lines: [.valid(serial: setup.serial)], ca: setup.ca,
                                                         signer: setup.ca, key: setup.caKey, nextUpdateMinutes: 1)
        defer { oneMinute.stop() }
        // Checked as if later (the answers are signed now): one challenge, valid for a day.
        let transport = SwitchableTransport(noNextUpdate.url)
        let bank = setup.verifier(transport, url: noNextUpdate.url, maxAge: 300, lifetime: 86_400)
        let challenge = bank.issueChallenge()
        let signature = try await setup.sign(challenge)
        // Older than the maximum age.
        await refused(.staleStatus) { () async throws(CardLoginError) in
            try await setup.login(bank, challenge, signature, now: Date().addingTimeInterval(600))
        }
        // Past its nextUpdate, though within the maximum age.
        transport.point(at: oneMinute.url)
        await refused(.staleStatus) { () async throws(CardLoginError) in
            try await setup.login(bank, challenge, signature, now: Date().addingTimeInterval(150))
        }
        #expect(try await setup.login(bank, challenge, signature).status?.source == .ocsp)
    }

    @Test func anAnswerFromTheFutureIsRefused() async throws {
        let setup = try await Setup()
        defer { setup.cleanup() }
        // The card's own authentication key, certified a day ago by a card CA made two days ago, so
        // that the login can be checked an hour before the responder signs.
        let keyPEM = try await setup.issued.card.card("public-key", ["--app", "auth"]).stdout
        let base64 = keyPEM.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let keyDER = try #require(Data(base64Encoded: base64))
        let authority = try CertificateAuthority.create(commonName: "linkcore card authority CA", validDays: 3650,
                                                        notBefore: Date().addingTimeInterval(-2 * 86_400))
        let ca = setup.dir + "/old-ca.pem", caKey = setup.dir + "/old-ca.key"
        try authority.certificate.certificatePEM.write(toFile: ca, atomically: true, encoding: .utf8)
        try authority.certificate.privateKeyPEM.write(toFile: caKey, atomically: true, encoding: .utf8)
        let backdated = try authority.issueForPublicKey(publicKeyDER: Array(keyDER), subject: [("C", "JP"), ("CN", "JPKI user backdated")],
                                                        nonRepudiation: false, notBefore: Date().addingTimeInterval(-86_400), validDays: 1826)
        let responder = try await OpenSSLResponder.start(directory: setup.dir, lines: [.valid(serial: backdated.serialHex)], ca: ca,
                                                         signer: ca, key: caKey)
        defer { responder.stop() }
        let bank = CardLoginVerifier(
            service: "BANK01", cardCAPEM: authority.certificate.certificatePEM, challengeLifetime: 86_400,
            statusChecker: CardStatusChecker(policy: CardStatusPolicy(ocspURL: responder.url, clockSkew: 60), transport: HTTPOCSPTransport()))
        let challenge = bank.issueChallenge()
        let signature = try await setup.sign(challenge)
        await refused(.staleStatus) { () async throws(CardLoginError) in
            try await bank.login(challenge: challenge.bytes, signature: signature, certificatePEM: backdated.certificatePEM,
                                 now: Date().addingTimeInterval(-3600))
        }
        #expect(try await bank.login(challenge: challenge.bytes, signature: signature, certificatePEM: backdated.certificatePEM)
            .serialHex == backdated.serialHex)
    }

    @Test func withoutAConfiguredURLTheResponderNamedInTheCertificateIsAsked() async throws {
        let setup = try await Setup()
        defer { setup.cleanup() }
        let responder = try await OpenSSLResponder.start(directory: setup.dir, lines: [.valid(serial: "5A17")], ca: setup.ca,
                                                         signer: setup.ca, key: setup.caKey)
        defer { responder.stop() }
        // The card's authentication key certified by the card CA with an authorityInfoAccess
        // naming the responder (openssl x509 -new -force_pubkey: the key stays on the card).
        try await setup.issued.card.card("public-key", ["--app", "auth"]).stdout.write(toFile: setup.dir + "/auth.pub", atomically: true, encoding: .utf8)
        try "keyUsage=critical,digitalSignature\nauthorityInfoAccess=OCSP;URI:\(responder.url.absoluteString)\n"
            .write(toFile: setup.dir + "/aia.ext", atomically: true, encoding: .utf8)
        try await openssl(["x509", "-new", "-subj", "/C=JP/CN=JPKI user with AIA", "-force_pubkey", setup.dir + "/auth.pub", "-CA", setup.ca,
                     "-CAkey", setup.caKey, "-set_serial", "0x5A17", "-days", "30", "-extfile", setup.dir + "/aia.ext",
                     "-out", setup.dir + "/aia.pem"], in: setup.dir)
        let certificate = try String(contentsOfFile: setup.dir + "/aia.pem", encoding: .utf8)
        let bank = setup.verifier(HTTPOCSPTransport(), url: nil)
        let challenge = bank.issueChallenge()
        let login = try await bank.login(challenge: challenge.bytes, signature: try setup.sign(challenge), certificatePEM: certificate)
        #expect(login.serialHex == "5A17")
        #expect(login.status?.source == .ocsp)
    }

    @Test func theCRLAnswersWhenTheResponderIsUnreachable() async throws {
        let setup = try await Setup()
        defer { setup.cleanup() }
        let authority = try CertificateAuthority(certificatePEM: setup.issued.caPEM,
                                                 privateKeyPEM: try String(contentsOfFile: setup.caKey, encoding: .utf8))
        let crl = setup.dir + "/card.crl"
        let down = try #require(URL(string: "http://127.0.0.1:\(try freeLoopbackPort())/"))  // nothing listens there
        let bank = setup.verifier(HTTPOCSPTransport(), url: down, crl: crl)

        try authority.makeCRL(revoked: [], nextUpdateDays: 1, crlNumber: 1).write(toFile: crl, atomically: true, encoding: .utf8)
        let challenge = bank.issueChallenge()
        let login = try await setup.login(bank, challenge, try setup.sign(challenge))
        #expect(login.serialHex == setup.serial)
        #expect(login.status?.source == .crl)

        // An unsigned "try later" from the responder also sends the login to the CRL.
        let canned = try CannedResponder()
        defer { canned.stop() }
        canned.serve([0x30, 0x03, 0x0a, 0x01, 0x03])
        let busy = setup.verifier(HTTPOCSPTransport(), url: canned.url, crl: crl)
        let busyChallenge = busy.issueChallenge()
        #expect(try await setup.login(busy, busyChallenge, try setup.sign(busyChallenge)).status?.source == .crl)

        let next = bank.issueChallenge()
        let signature = try await setup.sign(next)
        // The CRL lists the certificate.
        try authority.makeCRL(revoked: [RevokedCertificate(serialHex: setup.serial, revocationDate: Date())], nextUpdateDays: 1, crlNumber: 2)
            .write(toFile: crl, atomically: true, encoding: .utf8)
        await refused(.revoked(reason: nil)) { () async throws(CardLoginError) in try await setup.login(bank, next, signature) }
        // A CRL from `openssl ca -gencrl` with the certificate on hold.
        try IndexLine.revoked(serial: setup.serial, reason: "certificateHold,holdInstructionReject").text
            .write(toFile: setup.dir + "/crl-index.txt", atomically: true, encoding: .utf8)
        try "[ca]\ndefault_ca = card\n[card]\ndatabase = \(setup.dir)/crl-index.txt\ndefault_md = sha256\ndefault_crl_days = 1\n"
            .write(toFile: setup.dir + "/crl.cnf", atomically: true, encoding: .utf8)
        try await openssl(["ca", "-gencrl", "-config", setup.dir + "/crl.cnf", "-keyfile", setup.caKey, "-cert", setup.ca, "-out", crl], in: setup.dir)
        await refused(.suspended) { () async throws(CardLoginError) in try await setup.login(bank, next, signature) }
        // A CRL past its nextUpdate, and one signed by another authority: no fresh status, refused.
        try authority.makeCRL(revoked: [], nextUpdateDays: 1, crlNumber: 3, thisUpdate: Date().addingTimeInterval(-2 * 86_400))
            .write(toFile: crl, atomically: true, encoding: .utf8)
        await unavailable { () async throws(CardLoginError) in try await setup.login(bank, next, signature) }
        let other = try CertificateAuthority.create(commonName: "linkcore card authority CA", validDays: 30)
        try other.makeCRL(revoked: [], nextUpdateDays: 1, crlNumber: 4).write(toFile: crl, atomically: true, encoding: .utf8)
        await unavailable { () async throws(CardLoginError) in try await setup.login(bank, next, signature) }
        // A fresh good CRL again: the refusals left the challenge usable.
        try authority.makeCRL(revoked: [], nextUpdateDays: 1, crlNumber: 5).write(toFile: crl, atomically: true, encoding: .utf8)
        #expect(try await setup.login(bank, next, signature).status?.source == .crl)
    }

    @Test func withNeitherResponderNorFreshCRLTheLoginFailsClosed() async throws {
        let setup = try await Setup()
        defer { setup.cleanup() }
        let down = try #require(URL(string: "http://127.0.0.1:\(try freeLoopbackPort())/"))
        let bank = setup.verifier(HTTPOCSPTransport(), url: down, crl: setup.dir + "/never-published.crl")
        let challenge = bank.issueChallenge()
        let signature = try await setup.sign(challenge)
        await unavailable { () async throws(CardLoginError) in try await setup.login(bank, challenge, signature) }
        // Neither a responder URL (none configured, none in the certificate) nor a CRL.
        let bare = setup.verifier(HTTPOCSPTransport(), url: nil)
        let bareChallenge = bare.issueChallenge()
        let bareSignature = try await setup.sign(bareChallenge)
        await unavailable { () async throws(CardLoginError) in try await setup.login(bare, bareChallenge, bareSignature) }
        // A verifier built without any status source.
        let unchecked = CardLoginVerifier(service: "BANK01", cardCAPEM: setup.issued.caPEM)
        let uncheckedChallenge = unchecked.issueChallenge()
        let uncheckedSignature = try await setup.sign(uncheckedChallenge)
        await unavailable { () async throws(CardLoginError) in
            try await unchecked.login(challenge: uncheckedChallenge.bytes, signature: uncheckedSignature, certificatePEM: setup.issued.userPEM)
        }
    }

    @Test func theSignatureCertificateCannotLogIn() async throws {
        let setup = try await Setup()
        defer { setup.cleanup() }
        let bank = setup.verifier(HTTPOCSPTransport(), url: nil)
        let challenge = bank.issueChallenge()
        let signature = try await CardLoginTests().sign(setup.issued, challenge.bytes, app: "sign", raw: true)
        #expect(throws: CardLoginError.signatureCertificate) {
            try bank.verify(challenge: challenge.bytes, signature: signature, certificatePEM: setup.issued.signaturePEM)
        }
        await refused(.signatureCertificate) { () async throws(CardLoginError) in
            try await bank.login(challenge: challenge.bytes, signature: signature, certificatePEM: setup.issued.signaturePEM)
        }
    }
}
