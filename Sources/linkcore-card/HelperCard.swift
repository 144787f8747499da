import Foundation
import LinkcoreCard
import Synchronization

/// The card side of the helper: the user authentication key through `CardToken`, the same call
/// `linkcore-card sign` makes (login, C_Sign, logout). One signature at a time: the lock keeps
/// two PIN forms from interleaving logins on the token.
final class HelperCard: Sendable {
    enum Outcome: Sendable {
        case signed(certificatePEM: String, signatureHex: String)
        /// The holder may try again (wrong PIN, PIN format).
        case retry(CardError)
        /// Final for this request (locked PIN, no certificate, card gone).
        case refused(String)
    }

    private let token: Mutex<CardToken>

    init(_ token: CardToken) { self.token = Mutex(token) }

    /// Signs a login challenge with the user authentication key, or a link consent with the
    /// signature key, under that application's PIN.
    func sign(_ ask: HelperAsk, pin: String) -> Outcome {
        let application = ask.application
        return token.withLock { token in
            do throws(CardError) {
                guard let der = try token.certificate(application) else {
                    return .refused("certificate-not-found: the card has no \(application.displayName) certificate (not issued yet)")
                }
                let signature = try token.sign(application, data: ask.bytes, pin: pin)
                let base64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
                return .signed(certificatePEM: "-----BEGIN CERTIFICATE-----\n\(base64)\n-----END CERTIFICATE-----\n", signatureHex: hex(signature))
            } catch {
                switch error {
                case .wrongPIN, .invalidPINFormat: return .retry(error)
                default: return .refused("\(error.code): \(error)")
                }
            }
        }
    }
}
