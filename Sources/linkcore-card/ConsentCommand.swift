import ArgumentParser
import Foundation
import LinkcoreCard
import LinkcoreCardVerifier

/// `linkcore-card consent --requester ORG`: the holder consents to ORG obtaining a link by card
/// (issue 14, links made by card). Builds the `linkcore-card-link-consent/v1` text for ORG, signs
/// it with the **signature** key after the signature PIN (standard input), and prints, as JSON, the
/// three fields the adapter's `POST /links` takes as `card`: `certificate_pem`, `consent`,
/// `signature_hex`. The requester and expiry go to standard error before the PIN is read, so
/// the holder sees whom the consent is for.
struct ConsentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consent",
        abstract: "Sign a consent to a link by card for an organisation (signature PIN on standard input); JSON out.")
    @OptionGroup var card: CardOptions
    @Option(help: "The organisation code the consent is for (the organisation that will ask the matcher).")
    var requester: String
    @Option(help: "Seconds the consent stays valid (the matcher accepts at most its [card] max_consent_lifetime_ms).")
    var lifetime = 300

    struct Output: Encodable {
        let certificatePEM: String
        let consent: String
        let signatureHex: String
        enum CodingKeys: String, CodingKey {
            case certificatePEM = "certificate_pem", consent, signatureHex = "signature_hex"
        }
    }

    func validate() throws {
        guard !requester.isEmpty, !requester.contains(where: \.isNewline) else { throw ValidationError("--requester must be one non-empty line") }
        guard (1...3600).contains(lifetime) else { throw ValidationError("--lifetime must be between 1 and 3600 seconds") }
    }

    func run() throws {
        let consent = CardLinkConsent.fresh(requester: requester, lifetime: TimeInterval(lifetime))
        FileHandle.standardError.write(Data("consent to a link for \(requester), valid until \(consent.expiresAt) (signature PIN)\n".utf8))
        let pin = try readPIN("signature PIN")
        try runCard {
            let token = try card.open()
            guard let der = try token.certificate(.signature) else {
                // Checked before the PIN is used: without a certificate the signature is worthless.
                FileHandle.standardError.write(Data("error: certificate-not-found: the card has no signature certificate (not issued yet)\n".utf8))
                throw ExitCode(7)
            }
            let signature = try token.sign(.signature, data: consent.bytes, pin: pin)
            let base64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
            try printJSON(Output(certificatePEM: "-----BEGIN CERTIFICATE-----\n\(base64)\n-----END CERTIFICATE-----\n",
                                 consent: String(decoding: consent.bytes, as: UTF8.self), signatureHex: hex(signature)))
        }
    }
}
