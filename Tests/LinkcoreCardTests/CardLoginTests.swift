import Foundation
import LinkcoreCardVerifier
import LinkcorePKI
import LinkcoreRegistry
import Testing

/// Challenge-response login with a real card: the challenge is signed on the SoftHSM2 token by
/// `linkcore-card sign` after the 4-digit PIN, and verified against the card CA.
@Suite("Card login by challenge-response")
struct CardLoginTests {
    static let jpki = Tools.productsDirectory.appendingPathComponent("linkcore-jpki").path
    let signPIN = "abc123XYZ"
    let authPIN = "1234"

    /// A card personalised and issued by a fresh card authority; its user and signature certificates.
    struct Issued {
        let card: SoftCard
        let caPEM: String
        let userPEM: String
        let signaturePEM: String
        let userSerial: String
    }

    func issuedCard() async throws -> Issued {
        let card = try await SoftCard(signPIN: signPIN, authPIN: authPIN)
        guard try await card.card("personalise", stdin: "\(signPIN)\n\(authPIN)\n").status == 0 else { throw CardTestFailure("personalise") }
        let registryPath = card.directory + "/registry.db"
        try RegistryStore(path: registryPath).insert([
            Resident(residentCode: "00000000001", myNumber: "12345678901" + String(MyNumber.checkDigit(forBody: "12345678901") ?? 0),
                     name: "鈴木一郎", nameKana: nil, address: "東京都千代田区千代田1-1", birthDate: "1980-01-02", sex: .male),
        ])
        let dir = card.directory + "/jpki"
        guard try await runProcess(Self.jpki, ["ca-init", "--dir", dir], environment: [:]).status == 0 else { throw CardTestFailure("ca-init") }
        let issued = try await runProcess(Self.jpki, [
            "issue", "--dir", dir, "--registry", registryPath, "--resident", "00000000001", "--card", card.label,
            "--module", Tools.softhsmModule,
        ], stdin: "\(signPIN)\n\(authPIN)\n", environment: card.environment)
        guard issued.status == 0 else { throw CardTestFailure("issue: \(issued.stderr)") }
        let serials = try JSONDecoder().decode([String: String].self, from: Data(issued.stdout.utf8))
        let blocks = try await card.card("certificates").stdout.components(separatedBy: "# ").filter { !$0.isEmpty }
        let pems = Dictionary(uniqueKeysWithValues: blocks.map { ($0.prefix { $0 != "\n" }, String($0.drop { $0 != "\n" }.dropFirst())) })
        return Issued(card: card, caPEM: try String(contentsOfFile: dir + "/ca.pem", encoding: .utf8),
                      userPEM: pems["auth"] ?? "", signaturePEM: pems["sign"] ?? "", userSerial: serials["user"] ?? "")
    }

    /// The card signs `bytes` with application `app` after `pin`; `raw` for bytes `sign` would
    /// refuse to show the holder (a login challenge for the signature key).
    func sign(_ issued: Issued, _ bytes: [UInt8], app: String = "auth", pin: String? = nil, raw: Bool = false) async throws -> [UInt8] {
        let out = issued.card.directory + "/sig-\(UUID().uuidString)"
        let run = try await issued.card.card("sign", ["--app", app, "--challenge", bytes.map { String(format: "%02x", $0) }.joined(), "--out", out]
                                       + (raw ? ["--raw"] : []),
                                       stdin: (pin ?? (app == "auth" ? authPIN : signPIN)) + "\n")
        guard run.status == 0 else { throw CardTestFailure("sign: \(run.stderr)") }
        return Array(try Data(contentsOf: URL(fileURLWithPath: out)))
    }

    @Test func aChallengeSignedOnTheCardLogsInOnceAsTheUserCertificate() async throws {
        let issued = try await issuedCard()
        defer { issued.card.cleanup() }
        let bank = CardLoginVerifier(service: "BANK01", cardCAPEM: issued.caPEM)
        let challenge = bank.issueChallenge()
        let signature = try await sign(issued, challenge.bytes)

        let login = try bank.verify(challenge: challenge.bytes, signature: signature, certificatePEM: issued.userPEM)
        #expect(login.serialHex == issued.userSerial)
        // The user certificate's own end, five years (1826 days) after its start.
        let info = try CertificateInfo.parse(pem: issued.userPEM)
        #expect(login.notAfter == info.notAfter)
        #expect(info.notAfter == info.notBefore.addingTimeInterval(1826 * 86_400))
        // The same answer again is a replay.
        #expect(throws: CardLoginError.unknownOrReplayedChallenge) {
            try bank.verify(challenge: challenge.bytes, signature: signature, certificatePEM: issued.userPEM)
        }
    }

    @Test func refusalsAreTyped() async throws {
        let issued = try await issuedCard()
        defer { issued.card.cleanup() }
        let bank = CardLoginVerifier(service: "BANK01", cardCAPEM: issued.caPEM)

        // Issued to another service.
        let shop = CardLoginVerifier(service: "SHOP02", cardCAPEM: issued.caPEM)
        let shopChallenge = shop.issueChallenge()
        let shopSignature = try await sign(issued, shopChallenge.bytes)
        #expect(throws: CardLoginError.otherService("SHOP02")) {
            try bank.verify(challenge: shopChallenge.bytes, signature: shopSignature, certificatePEM: issued.userPEM)
        }

        // Expired, and never issued.
        let challenge = bank.issueChallenge()
        let signature = try await sign(issued, challenge.bytes)
        #expect(throws: CardLoginError.expiredChallenge) {
            try bank.verify(challenge: challenge.bytes, signature: signature, certificatePEM: issued.userPEM,
                            now: challenge.expiresAt.addingTimeInterval(1))
        }
        let forged = CardChallenge(service: "BANK01", expiresAt: challenge.expiresAt, nonce: [UInt8](repeating: 7, count: 32))
        let forgedSignature = try await sign(issued, forged.bytes)
        #expect(throws: CardLoginError.unknownOrReplayedChallenge) {
            try bank.verify(challenge: forged.bytes, signature: forgedSignature, certificatePEM: issued.userPEM)
        }

        // Signed by the card's other key (as by another card), or over other bytes.
        let otherKeySignature = try await sign(issued, challenge.bytes, app: "sign", raw: true)
        #expect(throws: CardLoginError.badSignature) {
            try bank.verify(challenge: challenge.bytes, signature: otherKeySignature, certificatePEM: issued.userPEM)
        }
        #expect(throws: CardLoginError.malformedChallenge) {
            try bank.verify(challenge: challenge.bytes + [0x0a], signature: signature, certificatePEM: issued.userPEM)
        }

        // A certificate from another CA, and the right one after it has expired.
        let otherCA = issued.card.directory + "/other-ca"
        #expect(try await runProcess(Self.jpki, ["ca-init", "--dir", otherCA], environment: [:]).status == 0)
        let strict = CardLoginVerifier(service: "BANK01", cardCAPEM: try String(contentsOfFile: otherCA + "/ca.pem", encoding: .utf8))
        let strictChallenge = strict.issueChallenge()
        let otherCASignature = try await sign(issued, strictChallenge.bytes)
        #expect {
            try strict.verify(challenge: strictChallenge.bytes, signature: otherCASignature, certificatePEM: issued.userPEM)
        } throws: { error in
            if case CardLoginError.notFromCardCA = error { return true }
            return false
        }
        // (Its own verifier: issuing at `later` prunes the bank's challenges that expired by then.)
        let later = Date().addingTimeInterval(6 * 366 * 86_400)
        let future = CardLoginVerifier(service: "BANK01", cardCAPEM: issued.caPEM)
        let lateChallenge = future.issueChallenge(now: later)
        let lateSignature = try await sign(issued, lateChallenge.bytes)
        #expect(throws: CardLoginError.certificateExpired) {
            try future.verify(challenge: lateChallenge.bytes, signature: lateSignature, certificatePEM: issued.userPEM, now: later)
        }

        // None of these refusals used up the good challenge.
        #expect(try bank.verify(challenge: challenge.bytes, signature: signature, certificatePEM: issued.userPEM).serialHex == issued.userSerial)
    }
}
