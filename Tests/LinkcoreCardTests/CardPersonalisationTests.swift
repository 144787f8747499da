import Foundation
import LinkcorePKI
import Testing

/// `linkcore-jpki issue` personalises a blank card (keys made on its tokens, never extractable)
/// under an RSA-2048 card CA, records the card's own end, and a renewal never outlives the card.
/// Real SoftHSM2 tokens and `linkcore-jpki` processes; openssl, pkcs11-tool and sqlite3 check.
@Suite("Card authority personalises the card")
struct CardPersonalisationTests {
    let signPIN = "abc123XYZ"
    let authPIN = "1234"

    /// A Japan-time calendar for the card's days.
    static var tokyo: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 9 * 3600) ?? .gmt
        return calendar
    }

    static func day(_ date: Date) -> String {
        let c = tokyo.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
    }

    func cardStatus(_ authority: CardAuthorityFixture, _ card: SoftCard) async throws -> [String: Any] {
        let run = try await authority.jpki(["card-status", "--card", card.label])
        return try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stderr)")
    }

    @Test func issueMakesTheKeysOnABlankCardAndCertifiesThemWithTheRSACardCA() async throws {
        let card = try await SoftCard(signPIN: signPIN, authPIN: authPIN)
        defer { card.cleanup() }
        let authority = try await CardAuthorityFixture(root: card.directory)
        let caText = try await authority.openssl(["x509", "-in", authority.dir + "/ca.pem", "-noout", "-text"]).stdout
        #expect(caText.contains("Public Key Algorithm: rsaEncryption") && caText.contains("Public-Key: (2048 bit)"), "\(caText)")
        #expect(caText.contains("Signature Algorithm: sha256WithRSAEncryption"))
        #expect(try await statuses(try card.card("status"))["sign"]?.hasKeyPair == false)

        // One command: keys on the card, certificates issued and written, `personalise` recorded.
        let issued = try await authority.jpki(["issue", "--registry", authority.registryPath, "--resident", "00000000001", "--card", card.label,
                                         "--module", Tools.softhsmModule], stdin: "\(signPIN)\n\(authPIN)\n", card: card)
        #expect(issued.status == 0, "\(issued.stderr)")
        let serials = try JSONDecoder().decode([String: String].self, from: Data(issued.stdout.utf8))
        let status = try await statuses(try card.card("status"))
        for app in ["sign", "auth"] {
            #expect(status[app]?.hasKeyPair == true && status[app]?.hasCertificate == true)
        }
        // The keys were made on the token: RSA-2048, always sensitive, never extractable.
        for (token, pin) in [("CARD01-SIG", signPIN), ("CARD01-AUTH", authPIN)] {
            let listed = try await card.pkcs11Tool(["--token-label", token, "--login", "--pin", pin, "--list-objects", "--type", "privkey"])
            #expect(listed.stdout.contains("Private Key Object; RSA"), "\(listed.stdout)\(listed.stderr)")
            #expect(listed.stdout.contains("never extractable") && listed.stdout.contains("always sensitive"))
        }
        for (app, pin) in [("sign", signPIN), ("auth", authPIN)] {
            let read = try await card.card("key-protection", ["--app", app], stdin: pin + "\n")
            let protection = try JSONDecoder().decode([String: Bool].self, from: Data(read.stdout.utf8))
            #expect(protection["neverExtractable"] == true && protection["privateExponentReadable"] == false)
        }

        var notBefore = Date()
        for (app, serial) in [("sign", serials["signature"] ?? ""), ("auth", serials["user"] ?? "")] {
            let file = "\(authority.dir)/issued/\(serial).pem"
            let verified = try await authority.openssl(["verify", "-CAfile", authority.dir + "/ca.pem", file])
            #expect(verified.stdout.contains("\(file): OK"), "\(verified.stdout)\(verified.stderr)")
            #expect(try await authority.openssl(["x509", "-in", file, "-noout", "-text"]).stdout.contains("Signature Algorithm: sha256WithRSAEncryption"))
            // The certified key is the one now on the card.
            #expect(try await authority.openssl(["x509", "-in", file, "-noout", "-pubkey"]).stdout == (try card.card("public-key", ["--app", app]).stdout))
            let info = try CertificateInfo.parse(pem: try String(contentsOfFile: file, encoding: .utf8))
            #expect(info.notAfter == info.notBefore.addingTimeInterval(1826 * 86_400))
            notBefore = info.notBefore
        }

        // The card runs until 鈴木一郎's (born 1980-01-02) 10th birthday after the day of issuance.
        let issuedOn = Self.tokyo.dateComponents([.year, .month, .day], from: notBefore)
        let firstBirthdayYear = issuedOn.month == 1 && issuedOn.day == 1 ? (issuedOn.year ?? 0) : (issuedOn.year ?? 0) + 1
        let record = try await cardStatus(authority, card)
        #expect(record["state"] as? String == "personalised")
        #expect(record["history"] as? [String] == ["apply", "personalise"])
        #expect(record["expiresOn"] as? String == String(format: "%04d-01-02", firstBirthdayYear + 9), "\(record)")

        // The CRL is signed by the RSA CA too, and openssl checks it.
        _ = try await authority.publishCRL()
        let crl = try await authority.crlText()
        #expect(crl.contains("verify OK") && crl.contains("sha256WithRSAEncryption"), "\(crl)")
    }

    @Test func aWrongPINMakesNoKeysAndACardWithKeysKeepsThem() async throws {
        let card = try await SoftCard(signPIN: signPIN, authPIN: authPIN)
        defer { card.cleanup() }
        let authority = try await CardAuthorityFixture(root: card.directory)
        func issue(_ stdin: String) async throws -> Run {
            try await authority.jpki(["issue", "--registry", authority.registryPath, "--resident", "00000000001", "--card", card.label,
                                "--module", Tools.softhsmModule], stdin: stdin, card: card)
        }
        // The second PIN is wrong: both are checked before any key is made.
        let wrong = try await issue("\(signPIN)\n9999\n")
        #expect(wrong.status != 0)
        #expect(wrong.stderr.contains("error: wrong-pin:"), "\(wrong.stderr)")
        let untouched = try await statuses(try card.card("status"))
        #expect(untouched["sign"]?.hasKeyPair == false && untouched["auth"]?.hasKeyPair == false)
        #expect(try await cardStatus(authority, card)["state"] as? String == "applied")

        // Keys made before (the development shortcut): issuance certifies those, makes none.
        #expect(try await card.card("personalise", stdin: "\(signPIN)\n\(authPIN)\n").status == 0)
        let before = try await card.card("public-key", ["--app", "auth"]).stdout
        #expect(try await issue("\(signPIN)\n\(authPIN)\n").status == 0)
        #expect(try await card.card("public-key", ["--app", "auth"]).stdout == before)
    }

    @Test func aLateRenewalEndsWithTheCardAndARenewalAfterItsEndIsRefused() async throws {
        let card = try await SoftCard(signPIN: signPIN, authPIN: authPIN)
        defer { card.cleanup() }
        let authority = try await CardAuthorityFixture(root: card.directory)
        _ = try await authority.activeCard(card, resident: "00000000001", signPIN: signPIN, authPIN: authPIN)
        func renew() async throws -> Run {
            try await authority.jpki(["renew", "--registry", authority.registryPath, "--card", card.label, "--module", Tools.softhsmModule],
                               stdin: "\(signPIN)\n\(authPIN)\n", card: card)
        }
        /// The card's recorded end moved, as if years had passed (the authority has no clock option).
        func setCardEnd(_ day: String) async throws {
            let set = try await runProcess(Tools.which("sqlite3"), [authority.dir + "/authority.db",
                                     "UPDATE cards SET expires_on = '\(day)' WHERE card = '\(card.label)'"], environment: [:])
            #expect(set.status == 0, "\(set.stderr)")
        }

        // The card ends in 100 days: the renewed certificates end with it, at 00:00 Tokyo time
        // after its last day, not 5 years on.
        let lastDay = try #require(Self.tokyo.date(byAdding: .day, value: 100, to: Date()))
        try await setCardEnd(Self.day(lastDay))
        let renewed = try await renew()
        #expect(renewed.status == 0, "\(renewed.stderr)")
        let serials = try JSONDecoder().decode([String: String].self, from: Data(renewed.stdout.utf8))
        let end = try #require(Self.tokyo.date(byAdding: .day, value: 1, to: Self.tokyo.startOfDay(for: lastDay)))
        for serial in [serials["signature"] ?? "", serials["user"] ?? ""] {
            let info = try CertificateInfo.parse(pem: try String(contentsOfFile: "\(authority.dir)/issued/\(serial).pem", encoding: .utf8))
            #expect(info.notAfter == end)
        }
        #expect(try await cardStatus(authority, card)["expiresOn"] as? String == Self.day(lastDay))

        // The card's last day was yesterday: refused before the card is touched.
        let yesterday = try #require(Self.tokyo.date(byAdding: .day, value: -1, to: Date()))
        try await setCardEnd(Self.day(yesterday))
        let keyBefore = try await card.card("public-key", ["--app", "auth"]).stdout
        let refused = try await renew()
        #expect(refused.status == 9)
        #expect(refused.stderr == "error: lifecycle: card \(card.label) ran until \(Self.day(yesterday)) and has expired: apply for a new card\n")
        #expect(try await card.card("public-key", ["--app", "auth"]).stdout == keyBefore)
        #expect(try await cardStatus(authority, card)["generation"] as? Int == 2)
    }

    @Test func theCardCAKeyIsOneSetting() async throws {
        let root = NSTemporaryDirectory() + "linkcore-card-ca-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let made = try await runProcess(CardAuthorityFixture.jpki, ["ca-init", "--dir", root + "/p256", "--key-algorithm", "p256"], environment: [:])
        #expect(made.status == 0, "\(made.stderr)")
        let text = try await runProcess(Tools.which("openssl"), ["x509", "-in", root + "/p256/ca.pem", "-noout", "-text"], environment: [:]).stdout
        #expect(text.contains("id-ecPublicKey") && text.contains("ecdsa-with-SHA256"))
        let bad = try await runProcess(CardAuthorityFixture.jpki, ["ca-init", "--dir", root + "/bad", "--key-algorithm", "rsa1024"], environment: [:])
        #expect(bad.status != 0)
        #expect(!FileManager.default.fileExists(atPath: root + "/bad/ca.key"))
    }
}
