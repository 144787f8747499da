import Foundation
import LinkcoreRegistry
import Testing

/// The card's life cycle as certificate status, the CRL checked by the openssl CLI, and the
/// registry's changes as revocations: real SoftHSM2 tokens, `linkcore-jpki` as child processes
/// (each command a new process: every step also survives a restart).
@Suite("Card authority revokes, renews and publishes its CRL")
struct CardRevocationTests {
    let signPIN = "abc123XYZ"
    let authPIN = "1234"

    @Test func suspendResumeRenewRevokeAsTheCRLAndOpenSSLSeeThem() async throws {
        let card = try await SoftCard(signPIN: signPIN, authPIN: authPIN)
        defer { card.cleanup() }
        let authority = try await CardAuthorityFixture(root: card.directory)
        let first = try await authority.activeCard(card, resident: "00000000001", signPIN: signPIN, authPIN: authPIN)
        #expect(try await authority.status(first.signature) == "good")

        // Lost card: both certificates on hold, in the CRL the CA signed.
        #expect(try await authority.jpki(["transition", "--card", card.label, "--event", "suspend"]).stdout == "suspended\n")
        #expect(try await authority.status(first.user) == "revoked:certificateHold")
        let held = try await authority.publishCRL()
        let heldText = try await authority.crlText()
        #expect(heldText.contains("verify OK"), "\(heldText)")
        #expect(heldText.contains("Certificate Hold"))
        #expect(heldText.contains("Next Update:"))
        for serial in [first.signature, first.user] {
            #expect(heldText.contains("Serial Number: \(serial)"))
            let verified = try await authority.verifyWithCRL(serial)
            #expect(verified.status != 0)
            #expect((verified.stdout + verified.stderr).contains("certificate revoked"), "\(verified.stderr)")
        }
        // The DER twin is the same CRL.
        let derText = try await authority.openssl(["crl", "-inform", "DER", "-in", authority.dir + "/crl.der", "-noout", "-text"]).stdout
        let pemText = try await authority.openssl(["crl", "-in", authority.dir + "/crl.pem", "-noout", "-text"]).stdout
        #expect(!derText.isEmpty && derText == pemText)

        // Found again: released, and the next CRL (a higher number) no longer lists them.
        #expect(try await authority.jpki(["transition", "--card", card.label, "--event", "resume"]).stdout == "active\n")
        let released = try await authority.publishCRL()
        #expect(released > held)
        #expect(!(try await authority.crlText()).contains("Serial Number: \(first.signature)"))
        for serial in [first.signature, first.user] {
            let verified = try await authority.verifyWithCRL(serial)
            #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        }

        // Renewal: new keys on both tokens, new certificates written to the card, the old superseded.
        let oldKey = try await card.card("public-key", ["--app", "auth"]).stdout
        // A wrong second PIN renews nothing: both PINs are checked before any key is replaced.
        let oldSignKey = try await card.card("public-key", ["--app", "sign"]).stdout
        let wrongPIN = try await authority.jpki(["renew", "--registry", authority.registryPath, "--card", card.label,
                                           "--module", Tools.softhsmModule], stdin: "\(signPIN)\n9999\n", card: card)
        #expect(wrongPIN.status == 1)
        #expect(wrongPIN.stderr.hasPrefix("error: wrong-pin:"), "\(wrongPIN.stderr)")
        #expect(try await card.card("public-key", ["--app", "sign"]).stdout == oldSignKey)
        #expect(try await authority.status(first.signature) == "good")
        let renewed = try await authority.jpki(["renew", "--registry", authority.registryPath, "--card", card.label,
                                          "--module", Tools.softhsmModule], stdin: "\(signPIN)\n\(authPIN)\n", card: card)
        #expect(renewed.status == 0, "\(renewed.stderr)")
        let second = try JSONDecoder().decode([String: String].self, from: Data(renewed.stdout.utf8))
        let newSign = try #require(second["signature"]), newUser = try #require(second["user"])
        #expect(try await card.card("public-key", ["--app", "auth"]).stdout != oldKey)
        #expect(try await statuses(try card.card("status"))["auth"]?.hasCertificate == true)
        // The certificate on the card's user authentication token is the new one.
        let onCard = try await card.card("certificates").stdout
        let authBlock = try #require(onCard.components(separatedBy: "# ").first { $0.hasPrefix("auth\n") })
        let serialOnCard = try await runProcess(Tools.which("openssl"), ["x509", "-noout", "-serial"],
                                          stdin: String(authBlock.dropFirst("auth\n".count)), environment: [:]).stdout
        #expect(serialOnCard == "serial=\(newUser)\n")
        // The new certified key is the one now on the card; the card still signs with its PIN.
        let certifiedKey = try await authority.openssl(["x509", "-noout", "-pubkey", "-in", "\(authority.dir)/issued/\(newUser).pem"]).stdout
        #expect(certifiedKey == (try await card.card("public-key", ["--app", "auth"]).stdout))
        #expect(try await card.card("sign", ["--challenge", "01", "--raw"], stdin: "\(authPIN)\n").status == 0)
        // Certificate history: the old user certificate leads to the new one.
        #expect(try await authority.jpki(["current-user-certificate", "--user-serial", first.user]).stdout == newUser + "\n")
        #expect(try await authority.jpki(["current-user-certificate", "--user-serial", first.signature]).status == 10)
        _ = try await authority.publishCRL()
        let supersededText = try await authority.crlText()
        #expect(supersededText.contains("Superseded"))
        #expect((try await authority.verifyWithCRL(first.user)).stderr.contains("certificate revoked"))
        #expect(try await authority.verifyWithCRL(newUser).status == 0)
        #expect(try await authority.verifyWithCRL(newSign).status == 0)

        // Revocation: both certificates of the current generation, for good.
        #expect(try await authority.jpki(["transition", "--card", card.label, "--event", "revoke"]).stdout == "revoked\n")
        #expect(try await authority.status(newSign) == "revoked:cessationOfOperation")
        _ = try await authority.publishCRL()
        #expect(try await authority.crlText().contains("Cessation Of Operation"))
        for serial in [newSign, newUser] {
            #expect((try await authority.verifyWithCRL(serial)).stderr.contains("certificate revoked"))
        }
        let again = try await authority.jpki(["transition", "--card", card.label, "--event", "resume"])
        #expect(again.status == 9)
        #expect(again.stderr == "error: lifecycle: a revoked card cannot be resumed\n")
        let refusedRenewal = try await authority.jpki(["renew", "--registry", authority.registryPath, "--card", card.label,
                                                 "--module", Tools.softhsmModule], stdin: "\(signPIN)\n\(authPIN)\n", card: card)
        #expect(refusedRenewal.status == 9)
        #expect(refusedRenewal.stderr == "error: lifecycle: a revoked card cannot be renewed\n")
    }

    @Test func registryChangesRevokeTheSignatureCertificateOnAMoveAndBothOnADeath() async throws {
        let card1 = try await SoftCard(label: "CARD01", signPIN: signPIN, authPIN: authPIN)
        defer { card1.cleanup() }
        let card2 = try await SoftCard(label: "CARD02", signPIN: signPIN, authPIN: authPIN)
        defer { card2.cleanup() }
        let authority = try await CardAuthorityFixture(root: card1.directory)
        let moved = try await authority.activeCard(card1, resident: "00000000001", signPIN: signPIN, authPIN: authPIN)
        let died = try await authority.activeCard(card2, resident: "00000000002", signPIN: signPIN, authPIN: authPIN)
        func sync() async throws -> [String: Int] {
            let run = try await authority.jpki(["registry-sync", "--registry", authority.registryPath])
            guard run.status == 0 else { throw CardTestFailure("registry-sync: \(run.stderr)") }
            return try JSONDecoder().decode([String: Int].self, from: Data(run.stdout.utf8))
        }
        #expect(try await sync() == ["applied": 0, "revoked": 0, "cursor": 0])

        // The registry records a move, as `linkcore-matcher registry change` does.
        let registry = try RegistryStore(path: authority.registryPath)
        try registry.apply(.moved(address: "北海道札幌市中央区1-1"), to: "00000000001")
        let afterMove = try await sync()
        #expect(afterMove == ["applied": 1, "revoked": 1, "cursor": 1])
        #expect(try await authority.status(moved.signature) == "revoked:affiliationChanged")
        #expect(try await authority.status(moved.user) == "good")
        _ = try await authority.publishCRL()
        let text = try await authority.crlText()
        #expect(text.contains("Affiliation Changed"))
        // The signal says that something changed, never what.
        for fact in ["北海道", "札幌", "東京", "鈴木", "00000000001", "moved"] { #expect(!text.contains(fact)) }
        #expect((try await authority.verifyWithCRL(moved.signature)).stderr.contains("certificate revoked"))
        #expect(try await authority.verifyWithCRL(moved.user).status == 0)

        // Idempotent: a second run (a new process, as after a restart) applies nothing.
        #expect(try await sync() == ["applied": 0, "revoked": 0, "cursor": 1])

        try registry.apply(.died, to: "00000000002")
        #expect(try await sync() == ["applied": 1, "revoked": 2, "cursor": 2])
        #expect(try await authority.status(died.signature) == "revoked:cessationOfOperation")
        #expect(try await authority.status(died.user) == "revoked:cessationOfOperation")
        let record = try await authority.jpki(["card-status", "--card", card2.label]).stdout
        #expect(record.contains("\"state\":\"revoked\""), "\(record)")
        _ = try await authority.publishCRL()
        for serial in [died.signature, died.user] {
            #expect((try await authority.verifyWithCRL(serial)).stderr.contains("certificate revoked"))
        }
        #expect(try await sync() == ["applied": 0, "revoked": 0, "cursor": 2])
        // The moved holder's card is still in use, and its user certificate still good.
        #expect(try await authority.status(moved.user) == "good")
    }
}
