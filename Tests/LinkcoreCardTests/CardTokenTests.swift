import Foundation
import Testing

/// The number card as a real PKCS#11 token (SoftHSM2), driven through `linkcore-card` processes and
/// checked with independent tools: pkcs11-tool for the key attributes, the openssl CLI for signatures.
@Suite("Number card on a SoftHSM2 token")
struct CardTokenTests {
    let signPIN = "abc123XYZ"
    let authPIN = "1234"

    func personalised() async throws -> SoftCard {
        let card = try await SoftCard(signPIN: signPIN, authPIN: authPIN)
        let made = try await card.card("personalise", stdin: "\(signPIN)\n\(authPIN)\n")
        guard made.status == 0 else { throw CardTestFailure("personalise: \(made.stderr)") }
        return card
    }

    @Test func personaliseMakesTwoNonExtractableRSA2048KeyPairs() async throws {
        let card = try await personalised()
        defer { card.cleanup() }

        let status = try await statuses(try card.card("status"))
        #expect(status["sign"]?.tokenLabel == "CARD01-SIG")
        #expect(status["auth"]?.tokenLabel == "CARD01-AUTH")
        #expect(status["sign"]?.hasKeyPair == true && status["auth"]?.hasKeyPair == true)
        #expect(status["sign"]?.hasCertificate == false)

        for (token, pin) in [("CARD01-SIG", signPIN), ("CARD01-AUTH", authPIN)] {
            let listed = try await card.pkcs11Tool(["--token-label", token, "--login", "--pin", pin, "--list-objects", "--type", "privkey"])
            #expect(listed.status == 0)
            #expect(listed.stdout.contains("Private Key Object; RSA"))
            #expect(listed.stdout.contains("never extractable"))
            #expect(listed.stdout.contains("always sensitive"))
        }
        // The same through PKCS#11 itself: the private exponent is refused even when logged in.
        for (app, pin) in [("sign", signPIN), ("auth", authPIN)] {
            let read = try await card.card("key-protection", ["--app", app], stdin: pin + "\n")
            #expect(read.status == 0, "\(read.stderr)")
            let protection = try JSONDecoder().decode([String: Bool].self, from: Data(read.stdout.utf8))
            #expect(protection == ["sensitive": true, "extractable": false, "alwaysSensitive": true,
                                   "neverExtractable": true, "privateExponentReadable": false])
        }
        let pub = try await card.card("public-key", ["--app", "sign"])
        let modulus = try await runProcess(Tools.which("openssl"), ["pkey", "-pubin", "-noout", "-text"], stdin: pub.stdout, environment: [:])
        #expect(modulus.stdout.contains("Public-Key: (2048 bit)"))
    }

    @Test(arguments: ["sign", "auth"])
    func signatureMadeOnTheCardVerifiesWithOpenSSL(app: String) async throws {
        let card = try await personalised()
        defer { card.cleanup() }
        let challenge = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
        let hexChallenge = challenge.map { String(format: "%02x", $0) }.joined()
        let challengeFile = try card.file("challenge.bin", challenge)
        let signatureFile = card.directory + "/signature.bin"

        let pub = try await card.card("public-key", ["--app", app])
        #expect(pub.status == 0)
        let pubFile = try card.file("pub.pem", Data(pub.stdout.utf8))
        let signed = try await card.card("sign", ["--app", app, "--challenge", hexChallenge, "--raw", "--out", signatureFile],
                                   stdin: (app == "sign" ? signPIN : authPIN) + "\n")
        #expect(signed.status == 0, "\(signed.stderr)")

        let verified = try await runProcess(Tools.which("openssl"), ["dgst", "-sha256", "-verify", pubFile, "-signature", signatureFile, challengeFile], environment: [:])
        #expect(verified.stdout.contains("Verified OK"))
        // Another challenge does not verify against that signature.
        let other = try card.file("other.bin", Data(challenge.reversed()))
        let refused = try await runProcess(Tools.which("openssl"), ["dgst", "-sha256", "-verify", pubFile, "-signature", signatureFile, other], environment: [:])
        #expect(refused.status != 0)
    }

    @Test func wrongPINIsRefusedWithATypedErrorAndTheTokenReportsIt() async throws {
        let card = try await personalised()
        defer { card.cleanup() }
        let wrong = try await card.card("sign", ["--challenge", "00ff", "--raw"], stdin: "9999\n")
        #expect(wrong.status == 3)
        #expect(wrong.stderr.contains("error: wrong-pin: wrong user authentication PIN"))
        // SoftHSM2 raises "count low" after a wrong PIN and never locks (docs/card.md, "Wrong PINs").
        #expect(try await statuses(try card.card("status"))["auth"]?.pin.countLow == true)
        #expect(try await statuses(try card.card("status"))["sign"]?.pin.countLow == false)

        let right = try await card.card("sign", ["--challenge", "00ff", "--raw"], stdin: authPIN + "\n")
        #expect(right.status == 0)
        #expect(try await statuses(try card.card("status"))["auth"]?.pin.countLow == false)
    }

    @Test func aPINBreakingTheFormatIsRefusedBeforeTheTokenSeesIt() async throws {
        let card = try await personalised()
        defer { card.cleanup() }
        for (app, pin) in [("auth", "12a4"), ("auth", "12345"), ("sign", "abc12"), ("sign", "abc-12345")] {
            let run = try await card.card("sign", ["--app", app, "--challenge", "01", "--raw"], stdin: pin + "\n")
            #expect(run.status == 5, "\(app) \(pin)")
            #expect(run.stderr.contains("error: invalid-pin-format:"))
        }
        // No retry was spent.
        let status = try await statuses(try card.card("status"))
        #expect(status["auth"]?.pin.countLow == false && status["sign"]?.pin.countLow == false)
    }

    @Test func changePINReplacesTheOldPIN() async throws {
        let card = try await personalised()
        defer { card.cleanup() }
        #expect(try await card.card("change-pin", ["--app", "auth"], stdin: "\(authPIN)\n5678\n").status == 0)
        #expect(try await card.card("sign", ["--challenge", "0a", "--raw"], stdin: "\(authPIN)\n").status == 3)
        #expect(try await card.card("sign", ["--challenge", "0a", "--raw"], stdin: "5678\n").status == 0)

        // The new PIN follows the application's rule; a wrong old PIN changes nothing.
        #expect(try await card.card("change-pin", ["--app", "sign"], stdin: "\(signPIN)\nshort\n").status == 5)
        #expect(try await card.card("change-pin", ["--app", "sign"], stdin: "wrongPIN99\nnewPIN2026\n").status == 3)
        #expect(try await card.card("change-pin", ["--app", "sign"], stdin: "\(signPIN)\nnewPIN2026\n").status == 0)
        #expect(try await card.card("sign", ["--app", "sign", "--challenge", "0a", "--raw"], stdin: "newPIN2026\n").status == 0)
    }

    @Test func refusalsForAMissingCardOrASecondPersonalisation() async throws {
        let card = try await personalised()
        defer { card.cleanup() }
        let again = try await card.card("personalise", stdin: "\(signPIN)\n\(authPIN)\n")
        #expect(again.status == 7)
        #expect(again.stderr.hasPrefix("error: key-already-present:"))

        let missing = try await runProcess(Tools.card, ["status", "--card", "NOCARD", "--module", Tools.softhsmModule], environment: card.environment)
        #expect(missing.status == 6)
        #expect(missing.stderr.hasPrefix("error: token-not-found:"))

        let badModule = try await runProcess(Tools.card, ["status", "--card", card.label, "--module", card.directory + "/nope.so"], environment: card.environment)
        #expect(badModule.status == 6)
        #expect(badModule.stderr.hasPrefix("error: module-load:"))
        #expect(try await card.card("certificates").stdout.isEmpty)
    }
}
