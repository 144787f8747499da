import ArgumentParser
import Foundation
import LinkcoreCard
import LinkcoreCardVerifier

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Both applications' PIN state, keys and certificates (JSON).")
    @OptionGroup var card: CardOptions

    func run() throws {
        try runCard {
            let token = try card.open()
            try printJSON(try CardApplication.allCases.map { try token.status($0) })
        }
    }
}

struct CertificatesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "certificates", abstract: "The certificates on the card, PEM (none before issuance).")
    @OptionGroup var card: CardOptions

    func run() throws {
        try runCard {
            let token = try card.open()
            for app in CardApplication.allCases {
                guard let der = try token.certificate(app) else { continue }
                let base64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
                print("# \(app.rawValue)\n-----BEGIN CERTIFICATE-----\n\(base64)\n-----END CERTIFICATE-----")
            }
        }
    }
}

struct PublicKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "public-key", abstract: "An application's public key, PEM.")
    @OptionGroup var card: CardOptions
    @Option(help: "sign or auth") var app: CardApplication = .authentication

    func run() throws {
        try runCard { print(try card.open().publicKey(app).pem, terminator: "") }
    }
}

struct SignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign", abstract: "Sign a login challenge or a link consent on the card after the PIN (read from standard input).",
        discussion: "Shows on standard error who asks and until when before reading the PIN. Refuses an expired request "
            + "(exit 10), bytes that are neither a login challenge nor a link consent (exit 11) and bytes meant for the "
            + "other key (exit 12), without reading the PIN; --raw turns these checks off and signs the bytes as given.")
    @OptionGroup var card: CardOptions
    @Option(help: "sign or auth (a login challenge is signed with auth, a link consent with sign)") var app: CardApplication = .authentication
    @Option(help: "The bytes to sign, hex.") var challenge: String
    @Flag(help: "Sign the bytes as given, without the checks above (you know what they are).") var raw = false
    @Option(help: "Write the raw signature here instead of printing it as hex.") var out: String?

    func run() throws {
        guard let data = bytes(hex: challenge), !data.isEmpty else { throw ValidationError("--challenge must be non-empty hex") }
        // What the holder is about to sign, before the PIN: a PIN typed for an unseen request is
        // a blank cheque.
        let request = SigningRequest(bytes: data)
        if let refusal = request.refusal(app: app, raw: raw) {
            FileHandle.standardError.write(Data("error: \(refusal.code): \(refusal)\n".utf8))
            throw ExitCode(refusal.exitStatus)
        }
        let note = raw ? " (--raw: \(data.count) bytes signed as given)" : ""
        FileHandle.standardError.write(Data("\(request.describe())\(note); \(app.displayName) PIN\n".utf8))
        let pin = try readPIN("\(app.displayName) PIN")
        try runCard {
            let signature = try card.open().sign(app, data: data, pin: pin)
            if let out {
                try Data(signature).write(to: URL(fileURLWithPath: out))
            } else {
                print(hex(signature))
            }
        }
    }
}

struct ChangePINCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "change-pin", abstract: "Change a PIN: the old PIN, then the new one, on standard input.")
    @OptionGroup var card: CardOptions
    @Option(help: "sign or auth") var app: CardApplication

    func run() throws {
        let old = try readPIN("current PIN")
        let new = try readPIN("new PIN")
        try runCard { try card.open().changePIN(app, old: old, new: new) }
    }
}

/// A development shortcut kept for the tests and benchmarks that make keys before issuance:
/// personalisation is the card authority's step (`linkcore-jpki issue` makes the key pairs when the
/// card has none, with the same `CardToken` code). A resident's client never needs it.
struct PersonaliseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "personalise",
        abstract: "Development shortcut: generate both key pairs on the card (signature PIN, then user authentication PIN, "
            + "on standard input). Personalisation is the card authority's: `linkcore-jpki issue` makes the keys itself.")
    @OptionGroup var card: CardOptions

    func run() throws {
        let signPIN = try readPIN("signature PIN")
        let authPIN = try readPIN("user authentication PIN")
        try runCard {
            let token = try card.open()
            try token.generateKeyPair(.signature, pin: signPIN)
            try token.generateKeyPair(.authentication, pin: authPIN)
            try printJSON(try CardApplication.allCases.map { try token.status($0) })
        }
    }
}

/// Diagnostic: how the token protects a private key (PIN on standard input), as JSON.
struct KeyProtectionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key-protection", abstract: "Show that a private key is sensitive and never extractable (PIN on standard input).")
    @OptionGroup var card: CardOptions
    @Option(help: "sign or auth") var app: CardApplication

    func run() throws {
        let pin = try readPIN("\(app.displayName) PIN")
        try runCard { try printJSON(try card.open().keyProtection(app, pin: pin)) }
    }
}
