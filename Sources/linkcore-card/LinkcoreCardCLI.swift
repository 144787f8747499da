import ArgumentParser
import Foundation
import LinkcoreCard

/// The resident's card client (as JPKI's client software). PINs are read from standard input,
/// one per line, never from the command line (where `ps` would show them).
@main
struct LinkcoreCardCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linkcore-card",
        abstract: "Use a number card through its PKCS#11 module.",
        subcommands: [
            StatusCommand.self, CertificatesCommand.self, PublicKeyCommand.self, SignCommand.self,
            ChangePINCommand.self, KeyProtectionCommand.self, PersonaliseCommand.self, ConsentCommand.self, HelperCommand.self,
        ]
    )
}

struct CardOptions: ParsableArguments {
    @Option(help: "The PKCS#11 module (default: $LINKCORE_PKCS11_MODULE, else SoftHSM2's).")
    var module: String?

    @Option(help: "The card's label: its applications are the tokens <card>-SIG and <card>-AUTH.")
    var card: String

    func open() throws -> CardToken {
        let path = module ?? ProcessInfo.processInfo.environment["LINKCORE_PKCS11_MODULE"] ?? PKCS11Module.softHSM2Path
        return try CardToken(module: try PKCS11Module(path: path), card: card)
    }
}

extension CardApplication: ExpressibleByArgument {}

/// Runs `body`, printing a card refusal as `error: <code>: <text>` with its own exit status.
func runCard(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as CardError {
        FileHandle.standardError.write(Data("error: \(error.code): \(error)\n".utf8))
        throw ExitCode(exitStatus(error))
    }
}

/// Exit statuses a script can tell apart (2 is ArgumentParser's usage error).
func exitStatus(_ error: CardError) -> Int32 {
    switch error {
    case .wrongPIN, .wrongSOPIN: 3
    case .pinLocked: 4
    case .invalidPINFormat: 5
    case .tokenNotFound, .moduleLoad: 6
    case .keyNotFound, .keyAlreadyPresent: 7
    case .invalidCertificate: 8
    case .pkcs11: 1
    }
}

/// The next PIN line from standard input.
func readPIN(_ what: String) throws -> String {
    guard let line = readLine(strippingNewline: true) else {
        throw ValidationError("expected the \(what) on standard input")
    }
    return line
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

func bytes(hex text: String) -> [UInt8]? {
    let chars = Array(text.utf8)
    guard chars.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(chars.count / 2)
    for i in stride(from: 0, to: chars.count, by: 2) {
        guard let byte = UInt8(String(decoding: chars[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
        out.append(byte)
    }
    return out
}
