import ArgumentParser
import Foundation
import LinkcoreCard
import LinkcoreJPKI
import LinkcorePKI
import LinkcoreRegistry

/// The card authority (J-LIS runs it beside the resident registry): its own CA, separate from the
/// network CA; issuance and the card's life cycle; certificate status, the CRL and the registry's
/// changes as revocations (docs/card.md).
@main
struct JPKICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linkcore-jpki",
        abstract: "The number card authority: card CA, certificates, life cycle, CRL.",
        subcommands: [
            CAInitCommand.self, IssueCommand.self, TransitionCommand.self, ActivateCommand.self, RenewCommand.self,
            CardStatusCommand.self, LinkedCommand.self, CertificateStatusCommand.self, CurrentUserCertificateCommand.self,
            CRLCommand.self, RegistrySyncCommand.self, ServeCommand.self,
            OCSPSignerCommand.self, OCSPServeCommand.self,
        ]
    )
}

enum Validity {
    /// The card CA outlives every certificate it issues (the certificates' and the card's own
    /// validity: `CardValidity` in LinkcoreJPKI).
    static let caDays = 7305
}

extension CAKeyAlgorithm: ExpressibleByArgument {}

struct CAInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ca-init", abstract: "Create the card CA in a directory (ca.pem, ca.key).")
    @Option(help: "The authority's directory.") var dir: String
    @Option(help: "The card CA's key: rsa2048 (as JPKI; certificates and CRLs signed with RSA PKCS#1 v1.5 / SHA-256) or p256.")
    var keyAlgorithm: CAKeyAlgorithm = .rsa2048

    func run() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if FileManager.default.fileExists(atPath: dir + "/ca.key") {
            throw ValidationError("\(dir) already holds a card CA")
        }
        let ca = try CertificateAuthority.create(commonName: "linkcore card authority CA", validDays: Validity.caDays,
                                                 keyAlgorithm: keyAlgorithm)
        try write(ca.certificate.privateKeyPEM, to: dir + "/ca.key", mode: 0o600)
        try write(ca.certificate.certificatePEM, to: dir + "/ca.pem", mode: 0o644)
        print(ca.certificate.serialHex)
    }
}

struct IssueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue",
        abstract: "Personalise a card: make its two key pairs on the tokens (if they have none), issue the resident's signature "
            + "and user certificates for them and write them to the card (signature PIN, then user authentication PIN, on standard input).")
    @Option(help: "The authority's directory.") var dir: String
    @Option(help: "The resident registry (SQLite).") var registry: String
    @Option(help: "The resident code.") var resident: String
    @Option(help: "The card's label.") var card: String
    @Option(help: "The PKCS#11 module (default: $LINKCORE_PKCS11_MODULE, else SoftHSM2's).") var module: String?

    func run() throws {
        let signPIN = readLine(strippingNewline: true) ?? ""
        let authPIN = readLine(strippingNewline: true) ?? ""
        let ca = try CertificateAuthority(certificatePEM: try String(contentsOfFile: dir + "/ca.pem", encoding: .utf8),
                                          privateKeyPEM: try String(contentsOfFile: dir + "/ca.key", encoding: .utf8))
        // The same answer for an unknown and a deceased resident: no card for either.
        guard let stored = try RegistryStore(path: registry).resident(code: resident), stored.resident.status == .alive else {
            throw noLivingResident("no living resident \(resident) in the registry")
        }
        // The card's record: a new card is applied for here; only an applied card is personalised
        // (a second issuance for the same card is a renewal: `renew`).
        let store = try CardAuthorityStore(path: dir + "/authority.db")
        if let record = try store.card(card) {
            guard record.state == .applied else {
                try refusing { throw CardLifecycleError.impossible(state: record.state, event: .personalise) }
                return
            }
        } else {
            try store.apply(card: card, residentCode: resident)
        }
        let validity = try store.personalisationValidity(card: card, birthDate: try CardIssuance.birthDate(stored), now: Date())
        let path = module ?? ProcessInfo.processInfo.environment["LINKCORE_PKCS11_MODULE"] ?? PKCS11Module.softHSM2Path
        do {
            let token = try CardToken(module: try PKCS11Module(path: path), card: card)
            // Personalisation: the key pairs are made on the card's tokens (never extractable);
            // a card that already holds them (personalised by the development shortcut
            // `linkcore-card personalise`, or an issuance that stopped after this step) keeps them.
            try token.generateMissingKeyPairs(signaturePIN: signPIN, authenticationPIN: authPIN)
            let (signature, user) = try CardIssuance.issue(ca: ca, token: token, resident: stored, signPIN: signPIN, authPIN: authPIN,
                                                           validity: validity, dir: dir)
            // Recorded after the certificates are on the card: a crash in between leaves the card
            // `applied`, and issuing again replaces its certificates.
            try store.personalise(card: card, signatureSerial: signature.serialHex, userSerial: user.serialHex, expiresOn: validity.cardEnd)
            print("{\"signature\": \"\(signature.serialHex)\", \"user\": \"\(user.serialHex)\"}")
        } catch let error as CardError {
            FileHandle.standardError.write(Data("error: \(error.code): \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// The refusal to certify a resident the registry does not have, or has as deceased: one text and
/// exit status (10, "unknown") for both, so that neither is told from the other; not a usage error.
func noLivingResident(_ text: String) -> ExitCode {
    FileHandle.standardError.write(Data("error: no-living-resident: \(text)\n".utf8))
    return ExitCode(10)
}

struct CardStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "card-status", abstract: "A card's state and history (JSON).")
    @Option(help: "The authority's directory.") var dir: String
    @Option(help: "The card's label.") var card: String

    func run() throws {
        let store = try CardAuthorityStore(path: dir + "/authority.db")
        // A card the authority never recorded is an answer, not a usage error: its own code and
        // exit status (10, as the other lookups' "unknown"), so a script tells it from a failure.
        guard let record = try store.card(card) else {
            FileHandle.standardError.write(Data("error: unknown-card: \(CardLifecycleError.unknownCard(card))\n".utf8))
            throw ExitCode(10)
        }
        let object: [String: Any] = [
            "card": record.card, "state": record.state.rawValue, "generation": record.generation,
            "history": try store.history(card).map(\.event),
            // The card's last day (Japan time); null before personalisation or for a card of an
            // older authority file until its next renewal.
            "expiresOn": record.expiresOn.map { $0.description as Any } ?? NSNull(),
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
    }
}

/// What the two certificates say about their holder.
enum CardSubjects {
    /// RFC 3739 attribute types for the facts that have no DN short name in OpenSSL.
    static let dateOfBirthOID = "1.3.6.1.5.5.7.9.1"
    static let genderOID = "1.3.6.1.5.5.7.9.3"

    /// The four facts, as recorded in the registry: CN name, street address, dateOfBirth
    /// (YYYYMMDD), gender (M/F). docs/card.md documents this layout.
    static func signature(_ stored: StoredResident) -> [(String, String)] {
        [
            ("C", "JP"), ("CN", stored.resident.name), ("street", stored.resident.address),
            (dateOfBirthOID, stored.normalised.birthDate.replacingOccurrences(of: "-", with: "")),
            (genderOID, stored.resident.sex == .male ? "M" : "F"),
        ]
    }

    /// None of the facts: a random identifier only the authority can relate to the holder.
    static func user() -> [(String, String)] {
        let id = (0..<16).map { _ in String(format: "%02X", UInt8.random(in: 0...255)) }.joined()
        return [("C", "JP"), ("CN", "JPKI user \(id)")]
    }
}

enum PEM {
    static func der(_ pem: String) throws -> [UInt8] {
        let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let data = Data(base64Encoded: body) else { throw ValidationError("not a PEM certificate") }
        return Array(data)
    }
}

func write(_ text: String, to path: String, mode: Int) throws {
    guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
        throw ValidationError("cannot write \(path)")
    }
}
