import ArgumentParser
import Foundation
import LinkcoreCard
import LinkcoreJPKI
import LinkcorePKI
import LinkcoreRegistry

/// The two certificates of one generation, for the keys now on the card, written to it.
enum CardIssuance {
    static func issue(ca: CertificateAuthority, token: CardToken, resident: StoredResident, signPIN: String, authPIN: String,
                      validity: CardAuthorityStore.IssuanceValidity, dir: String) throws -> (signature: PEMCertificate, user: PEMCertificate) {
        let signature = try ca.issueForPublicKey(
            publicKeyDER: try token.publicKey(.signature).subjectPublicKeyInfoDER, subject: CardSubjects.signature(resident),
            nonRepudiation: true, notBefore: validity.notBefore, notAfter: validity.notAfter)
        let user = try ca.issueForPublicKey(
            publicKeyDER: try token.publicKey(.authentication).subjectPublicKeyInfoDER, subject: CardSubjects.user(),
            nonRepudiation: false, notBefore: validity.notBefore, notAfter: validity.notAfter)
        try token.storeCertificate(.signature, der: try PEM.der(signature.certificatePEM), pin: signPIN)
        try token.storeCertificate(.authentication, der: try PEM.der(user.certificatePEM), pin: authPIN)
        let issued = dir + "/issued"
        try FileManager.default.createDirectory(atPath: issued, withIntermediateDirectories: true)
        try write(signature.certificatePEM, to: "\(issued)/\(signature.serialHex).pem", mode: 0o644)
        try write(user.certificatePEM, to: "\(issued)/\(user.serialHex).pem", mode: 0o644)
        return (signature, user)
    }

    /// The holder's birth date as the card's validity counts it (the registry normalises it to
    /// YYYY-MM-DD on insert).
    static func birthDate(_ resident: StoredResident) throws -> CardDay {
        guard let day = CardDay(resident.normalised.birthDate) else {
            throw ValidationError("the registry's birth date of resident \(resident.resident.residentCode) is not a date")
        }
        return day
    }

    static func loadCA(dir: String, keyPath: String? = nil) throws -> CertificateAuthority {
        try CertificateAuthority(certificatePEM: try String(contentsOfFile: dir + "/ca.pem", encoding: .utf8),
                                 privateKeyPEM: try String(contentsOfFile: keyPath ?? dir + "/ca.key", encoding: .utf8))
    }
}

/// Renewal (更新) at the counter, with the holder: new key pairs on the card's two tokens, new
/// certificates from the registry's current facts (so a holder whose signature certificate was
/// revoked by a move gets one stating the new address), the old generation superseded.
struct RenewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew",
        abstract: "Renew an active card: new keys and certificates (signature PIN, then user authentication PIN, on standard input).")
    @Option(help: "The authority's directory.") var dir: String
    @Option(help: "The resident registry (SQLite).") var registry: String
    @Option(help: "The card's label.") var card: String
    @Option(help: "The PKCS#11 module (default: $LINKCORE_PKCS11_MODULE, else SoftHSM2's).") var module: String?

    func run() throws {
        let signPIN = readLine(strippingNewline: true) ?? ""
        let authPIN = readLine(strippingNewline: true) ?? ""
        try refusing {
            let store = try CardAuthorityStore(path: dir + "/authority.db")
            guard let record = try store.card(card) else { throw CardLifecycleError.unknownCard(card) }
            _ = try record.state.after(.renew)  // refuse before touching the card
            guard FileManager.default.fileExists(atPath: registry) else { throw ValidationError("no registry at \(registry)") }
            guard let stored = try RegistryStore(path: registry).resident(code: record.residentCode), stored.resident.status == .alive else {
                throw noLivingResident("no living resident for card \(card) in the registry")
            }
            // Also before touching the card: a card past its own end is refused, and the new
            // certificates end with the card if it ends within 5 years.
            let validity = try store.renewalValidity(card: card, birthDate: try CardIssuance.birthDate(stored), now: Date())
            try CardApplication.signature.validate(pin: signPIN)
            try CardApplication.authentication.validate(pin: authPIN)
            let ca = try CardIssuance.loadCA(dir: dir)
            let path = module ?? ProcessInfo.processInfo.environment["LINKCORE_PKCS11_MODULE"] ?? PKCS11Module.softHSM2Path
            let token = try CardToken(module: try PKCS11Module(path: path), card: card)
            _ = try token.replaceKeyPairs(signaturePIN: signPIN, authenticationPIN: authPIN)
            let (signature, user) = try CardIssuance.issue(ca: ca, token: token, resident: stored, signPIN: signPIN, authPIN: authPIN,
                                                           validity: validity, dir: dir)
            // Recorded after the new certificates are on the card: a crash in between leaves the
            // card at its old generation (its old certificates still good, their keys gone from
            // the card, so unusable) and renewing again completes it.
            try store.renew(card: card, signatureSerial: signature.serialHex, userSerial: user.serialHex, expiresOn: validity.cardEnd)
            print("{\"signature\": \"\(signature.serialHex)\", \"user\": \"\(user.serialHex)\"}")
        }
    }
}

/// Certificate history: the card's current user certificate given one of its older ones. Local
/// and operator-only; answering licensed verifiers over mutual TLS is a separate service.
struct CurrentUserCertificateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "current-user-certificate", abstract: "The current user certificate serial of the card a user certificate belongs to.")
    @Option(help: "The authority's directory.") var dir: String
    @Option(help: "A user certificate's serial (hex), of any generation.") var userSerial: String

    func run() throws {
        guard let current = try CardAuthorityStore(path: dir + "/authority.db").currentUserCertificate(forUserSerial: userSerial) else {
            FileHandle.standardError.write(Data("error: unknown-certificate: no user certificate \(userSerial)\n".utf8))
            throw ExitCode(10)
        }
        print(current)
    }
}
