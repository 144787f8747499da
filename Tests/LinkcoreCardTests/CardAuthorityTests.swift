import Foundation
import LinkcorePKI
import LinkcoreRegistry
import Testing

/// `linkcore-jpki` (skeleton): the card CA issues a resident's two certificates for the keys on a
/// real SoftHSM2 card and writes them to it; the openssl CLI checks them independently.
@Suite("Card authority issues the card's certificates")
struct CardAuthorityTests {
    static let jpki = Tools.productsDirectory.appendingPathComponent("linkcore-jpki").path
    let signPIN = "abc123XYZ"
    let authPIN = "1234"

    func openssl(_ arguments: [String], stdin: String = "") async throws -> Run {
        try await runProcess(Tools.which("openssl"), arguments, stdin: stdin, environment: [:])
    }

    func registry(in card: SoftCard) async throws -> String {
        let path = card.directory + "/registry.db"
        func myNumber(_ body: String) -> String { body + String(MyNumber.checkDigit(forBody: body) ?? 0) }
        try RegistryStore(path: path).insert([
            Resident(residentCode: "00000000001", myNumber: myNumber("12345678901"), name: "鈴木一郎", nameKana: "スズキ イチロウ",
                     address: "東京都千代田区千代田1-1", birthDate: "1980-01-02", sex: .male),
            Resident(residentCode: "00000000002", myNumber: myNumber("98765432109"),
                     name: "佐藤花子", nameKana: nil, address: "大阪府大阪市北区1-2", birthDate: "1990-03-04", sex: .female,
                     status: .deceased),
        ])
        return path
    }

    @Test func bothCertificatesChainToTheCardCAAndOnlyTheSignatureCertificateCarriesTheFacts() async throws {
        let card = try await SoftCard(signPIN: signPIN, authPIN: authPIN)
        defer { card.cleanup() }
        #expect(try await card.card("personalise", stdin: "\(signPIN)\n\(authPIN)\n").status == 0)
        let registryPath = try await registry(in: card)
        let dir = card.directory + "/jpki"
        #expect(try await runProcess(Self.jpki, ["ca-init", "--dir", dir], environment: [:]).status == 0)

        let issued = try await runProcess(Self.jpki, [
            "issue", "--dir", dir, "--registry", registryPath, "--resident", "00000000001", "--card", card.label,
            "--module", Tools.softhsmModule,
        ], stdin: "\(signPIN)\n\(authPIN)\n", environment: card.environment)
        #expect(issued.status == 0, "\(issued.stderr)")
        let serials = try JSONDecoder().decode([String: String].self, from: Data(issued.stdout.utf8))
        // The authority (and only it) links the signature certificate to the user certificate.
        let linked = try await runProcess(Self.jpki, ["linked", "--dir", dir, "--signature-serial", serials["signature"] ?? ""], environment: [:])
        #expect(linked.stdout == (serials["user"] ?? "-") + "\n")
        let notSignature = try await runProcess(Self.jpki, ["linked", "--dir", dir, "--signature-serial", serials["user"] ?? ""], environment: [:])
        #expect(notSignature.status == 10)

        // The certificates are on the card now, read back by the card client.
        let status = try await statuses(try card.card("status"))
        #expect(status["sign"]?.hasCertificate == true && status["auth"]?.hasCertificate == true)
        let listed = try await card.card("certificates").stdout
        let blocks = listed.components(separatedBy: "# ").filter { !$0.isEmpty }
        let pems = Dictionary(uniqueKeysWithValues: blocks.map { block in
            (String(block.prefix { $0 != "\n" }), String(block.drop { $0 != "\n" }.dropFirst()))
        })
        let signPEM = try #require(pems["sign"])
        let userPEM = try #require(pems["auth"])

        for (name, pem) in [("sign", signPEM), ("auth", userPEM)] {
            let file = try card.file("\(name).pem", Data(pem.utf8))
            let verified = try await openssl(["verify", "-CAfile", dir + "/ca.pem", file])
            #expect(verified.stdout.contains("\(file): OK"), "\(verified.stdout)\(verified.stderr)")
            // Five years exactly (5 × 365 + 1 leap day), whenever the test runs.
            let info = try CertificateInfo.parse(pem: pem)
            #expect(info.notAfter == info.notBefore.addingTimeInterval(1826 * 86_400))
            // Certified key = the key on the card.
            let certified = try await openssl(["x509", "-in", file, "-noout", "-pubkey"]).stdout
            #expect(certified == (try await card.card("public-key", ["--app", name]).stdout))
        }

        let signSubject = try await openssl(["x509", "-noout", "-subject", "-nameopt", "RFC2253,-esc_msb"], stdin: signPEM).stdout
        for fact in ["CN=鈴木一郎", "street=東京都千代田区千代田1-1", "dateOfBirth=19800102", "gender=M"] {
            #expect(signSubject.contains(fact), "\(signSubject)")
        }
        let userSubject = try await openssl(["x509", "-noout", "-subject", "-nameopt", "RFC2253,-esc_msb"], stdin: userPEM).stdout
        #expect(userSubject.contains("CN=JPKI user "))
        for fact in ["鈴木", "東京都", "1980", "dateOfBirth", "gender", "street"] {
            #expect(!userSubject.contains(fact), "\(userSubject)")
        }
        #expect(try await openssl(["x509", "-noout", "-text"], stdin: signPEM).stdout.contains("Non Repudiation"))
        #expect(!(try await openssl(["x509", "-noout", "-text"], stdin: userPEM).stdout.contains("Non Repudiation")))

        // The authority recorded the card as personalised, durably; issuing again is refused.
        let record = try await runProcess(Self.jpki, ["card-status", "--dir", dir, "--card", card.label], environment: [:])
        #expect(record.stdout.contains("\"state\":\"personalised\""), "\(record.stdout)\(record.stderr)")
        #expect(record.stdout.contains("\"history\":[\"apply\",\"personalise\"]"))
        let again = try await runProcess(Self.jpki, [
            "issue", "--dir", dir, "--registry", registryPath, "--resident", "00000000001", "--card", card.label,
            "--module", Tools.softhsmModule,
        ], stdin: "\(signPIN)\n\(authPIN)\n", environment: card.environment)
        #expect(again.status == 9)
        #expect(again.stderr == "error: lifecycle: a personalised card cannot be personalised\n", "\(again.stderr)")
        // A card the authority never recorded: its own refusal and exit status, not a usage error.
        let unknown = try await runProcess(Self.jpki, ["card-status", "--dir", dir, "--card", "NO-SUCH-CARD"], environment: [:])
        #expect(unknown.status == 10 && unknown.stdout.isEmpty, "\(unknown.status) \(unknown.stdout)")
        #expect(unknown.stderr == "error: unknown-card: no card NO-SUCH-CARD\n", "\(unknown.stderr)")
    }

    @Test func noCardForAnUnknownOrDeceasedResident() async throws {
        let card = try await SoftCard(signPIN: signPIN, authPIN: authPIN)
        defer { card.cleanup() }
        #expect(try await card.card("personalise", stdin: "\(signPIN)\n\(authPIN)\n").status == 0)
        let registryPath = try await registry(in: card)
        let dir = card.directory + "/jpki"
        #expect(try await runProcess(Self.jpki, ["ca-init", "--dir", dir], environment: [:]).status == 0)
        var errors: [String] = []
        for resident in ["00000000002", "00000000099"] {
            let refused = try await runProcess(Self.jpki, [
                "issue", "--dir", dir, "--registry", registryPath, "--resident", resident, "--card", card.label,
                "--module", Tools.softhsmModule,
            ], stdin: "\(signPIN)\n\(authPIN)\n", environment: card.environment)
            #expect(refused.status == 10)
            errors.append(refused.stderr.replacingOccurrences(of: resident, with: "<code>"))
        }
        // The same words either way: the refusal does not reveal whether the resident exists.
        // A typed refusal, not a usage error with the usage text.
        #expect(errors[0] == errors[1])
        #expect(errors[0] == "error: no-living-resident: no living resident <code> in the registry\n", "\(errors[0])")
        #expect(try await statuses(try card.card("status"))["sign"]?.hasCertificate == false)
    }
}

@Suite("Card authority runs the card's life cycle")
struct CardLifecycleCommandTests {
    static let jpki = CardAuthorityTests.jpki

    @Test func sendActivateWithNewPINsSuspendResumeAndTypedRefusals() async throws {
        let card = try await SoftCard(signPIN: "abc123XYZ", authPIN: "1234")
        defer { card.cleanup() }
        #expect(try await card.card("personalise", stdin: "abc123XYZ\n1234\n").status == 0)
        let registryPath = card.directory + "/registry.db"
        try RegistryStore(path: registryPath).insert([
            Resident(residentCode: "00000000001", myNumber: "12345678901" + String(MyNumber.checkDigit(forBody: "12345678901") ?? 0),
                     name: "鈴木一郎", nameKana: nil, address: "東京都千代田区千代田1-1", birthDate: "1980-01-02", sex: .male),
        ])
        let dir = card.directory + "/jpki"
        #expect(try await runProcess(Self.jpki, ["ca-init", "--dir", dir], environment: [:]).status == 0)
        func jpki(_ arguments: [String], stdin: String = "") async throws -> Run {
            try await runProcess(Self.jpki, arguments + ["--dir", dir, "--card", card.label], stdin: stdin, environment: card.environment)
        }
        #expect(try await jpki(["issue", "--registry", registryPath, "--resident", "00000000001", "--module", Tools.softhsmModule],
                         stdin: "abc123XYZ\n1234\n").status == 0)

        // Not sent yet: activation is refused before the card is touched.
        let early = try await jpki(["activate", "--module", Tools.softhsmModule], stdin: "\(SoftCard.soPIN)\nnewSign2026\n4321\n")
        #expect(early.status == 9)
        #expect(early.stderr == "error: lifecycle: a personalised card cannot be activated\n")
        #expect(try await jpki(["transition", "--event", "send"]).stdout == "sent\n")

        // A wrong SO PIN changes nothing; the right one sets the holder's PINs.
        let wrongSO = try await jpki(["activate", "--module", Tools.softhsmModule], stdin: "not-the-so\nnewSign2026\n4321\n")
        #expect(wrongSO.status == 1)
        #expect(wrongSO.stderr.hasPrefix("error: wrong-so-pin:"))
        #expect(try await jpki(["activate", "--module", Tools.softhsmModule], stdin: "\(SoftCard.soPIN)\nnewSign2026\n4321\n").stdout == "active\n")
        #expect(try await card.card("sign", ["--challenge", "01", "--raw"], stdin: "1234\n").status == 3)
        #expect(try await card.card("sign", ["--challenge", "01", "--raw"], stdin: "4321\n").status == 0)
        #expect(try await card.card("sign", ["--app", "sign", "--challenge", "01", "--raw"], stdin: "newSign2026\n").status == 0)

        #expect(try await jpki(["transition", "--event", "suspend"]).stdout == "suspended\n")
        let twice = try await jpki(["transition", "--event", "suspend"])
        #expect(twice.status == 9)
        #expect(twice.stderr == "error: lifecycle: a suspended card cannot be suspended\n")
        #expect(try await jpki(["transition", "--event", "resume"]).stdout == "active\n")
        let history = try await runProcess(Self.jpki, ["card-status", "--dir", dir, "--card", card.label], environment: [:]).stdout
        #expect(history.contains("\"history\":[\"apply\",\"personalise\",\"send\",\"activate\",\"suspend\",\"resume\"]"), "\(history)")
    }
}
