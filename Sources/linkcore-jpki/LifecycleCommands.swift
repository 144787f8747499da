import ArgumentParser
import Foundation
import LinkcoreCard
import LinkcoreJPKI

/// Prints a life-cycle or card refusal as `error: <code>: <text>` and exits 9 (life cycle) or 1.
func refusing(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as CardLifecycleError {
        FileHandle.standardError.write(Data("error: lifecycle: \(error)\n".utf8))
        throw ExitCode(9)
    } catch let error as CardError {
        FileHandle.standardError.write(Data("error: \(error.code): \(error)\n".utf8))
        throw ExitCode(1)
    }
}

/// The transitions that need no card: send (locked and posted), suspend (a lost card, by phone,
/// at once), resume, revoke. Each changes the certificates' status in the same transaction
/// (suspend: both on hold; resume: released; revoke: both cessationOfOperation).
struct TransitionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transition",
        abstract: "Record a card's send (locked and posted), suspend (lost card), resume or revoke.")
    @Option(help: "The authority's directory.") var dir: String
    @Option(help: "The card's label.") var card: String
    @Option(help: "send, suspend, resume or revoke") var event: String

    func run() throws {
        guard let event = CardEvent(rawValue: event), [.send, .suspend, .resume, .revoke].contains(event) else {
            throw ValidationError("--event must be send, suspend, resume or revoke (activate and renew have their own commands)")
        }
        try refusing {
            let record = try CardAuthorityStore(path: dir + "/authority.db").transition(card: card, event)
            print(record.state.rawValue)
        }
    }
}

/// Activation at the counter: the holder chooses both PINs, set on the card under the
/// authority's security officer PIN (C_InitPIN), then the card is in use.
struct ActivateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activate",
        abstract: "Activate a sent card: SO PIN, the holder's new signature PIN, new user authentication PIN on standard input.")
    @Option(help: "The authority's directory.") var dir: String
    @Option(help: "The card's label.") var card: String
    @Option(help: "The PKCS#11 module (default: $LINKCORE_PKCS11_MODULE, else SoftHSM2's).") var module: String?

    func run() throws {
        let soPIN = readLine(strippingNewline: true) ?? ""
        let signPIN = readLine(strippingNewline: true) ?? ""
        let authPIN = readLine(strippingNewline: true) ?? ""
        try refusing {
            let store = try CardAuthorityStore(path: dir + "/authority.db")
            guard let record = try store.card(card) else { throw CardLifecycleError.unknownCard(card) }
            _ = try record.state.after(.activate)  // refuse before touching the card
            try CardApplication.signature.validate(pin: signPIN)
            try CardApplication.authentication.validate(pin: authPIN)
            let path = module ?? ProcessInfo.processInfo.environment["LINKCORE_PKCS11_MODULE"] ?? PKCS11Module.softHSM2Path
            let token = try CardToken(module: try PKCS11Module(path: path), card: card)
            try token.resetPIN(.signature, soPIN: soPIN, newPIN: signPIN)
            try token.resetPIN(.authentication, soPIN: soPIN, newPIN: authPIN)
            print(try store.transition(card: card, .activate).state.rawValue)
        }
    }
}

/// The logical link: which user certificate belongs with a signature certificate, for the
/// operator on the authority's host. Licensed verifiers ask `serve` over mutual TLS.
struct LinkedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linked", abstract: "The user certificate serial linked to a signature certificate serial.")
    @Option(help: "The authority's directory.") var dir: String
    @Option(help: "The signature certificate's serial (hex).") var signatureSerial: String

    func run() throws {
        guard let user = try CardAuthorityStore(path: dir + "/authority.db").linkedUserCertificate(signatureSerial: signatureSerial) else {
            FileHandle.standardError.write(Data("error: unknown-certificate: no signature certificate \(signatureSerial)\n".utf8))
            throw ExitCode(10)
        }
        print(user)
    }
}
