import Foundation
import LinkcoreCardVerifier
import LinkcoreConfig
import LinkcoreRegistry
import LinkcoreWire
import Logging

/// Links made by card (issue 14): a match request carrying a resident's signature certificate and
/// a consent signed with it. The consent and certificate are verified (`CardConsentVerifier`), the
/// consent is spent once in the registry file, and the four facts come from the certificate's
/// subject; the match then goes on exactly as for typed facts.
struct CardLinks: Sendable {
    let verifier: CardConsentVerifier
    let ledger: CardConsentLedger
    let logger: Logger

    /// The facts to match, or the refusal. `orgCode` is the mTLS-authenticated requester.
    func facts(from card: LCCardConsent, orgCode: String, now: Date = Date()) async -> Result<Facts, WireError> {
        let verified: VerifiedCardConsent
        do {
            verified = try await verifier.verify(certificateDER: Array(card.signatureCertificate), consent: Array(card.consent),
                                                 signature: Array(card.signature), requester: orgCode, now: now)
        } catch {
            logger.info("card consent refused", metadata: ["org": "\(orgCode)", "why": "\(error)"])
            return .failure(Self.wireError(error))
        }
        guard let sex = Sex(parsing: verified.facts.gender) else { return .failure(Self.wireError(.missingFact("gender"))) }
        // Spent last, once everything else holds: a refused attempt never burns a good consent.
        do {
            guard try ledger.use(nonceHex: verified.consent.nonceHex, orgCode: orgCode, expiresAt: verified.consent.expiresAt, now: now) else {
                return .failure(Self.wireError(.replayedConsent))
            }
        } catch {
            logger.error("registry failure (card consents)", metadata: ["error": "\(error)"])
            return .failure(WireError(.unavailable, "the registry is unavailable"))
        }
        // No kana: the certificate carries none, and the match then compares the four facts only.
        return .success(Facts(name: verified.facts.name, nameKana: nil, address: verified.facts.address,
                              birthDate: verified.facts.dateOfBirth, sex: sex))
    }

    /// One wire code per refusal kind (protocol.md §12.1); messages carry no resident data.
    static func wireError(_ error: CardConsentError) -> WireError {
        let code: LCErrorCode = switch error {
        case .malformedConsent, .consentLifetimeTooLong, .malformedCertificate, .missingFact: .invalidArgument
        case .otherRequester: .cardConsentOtherRequester
        case .expiredConsent: .cardConsentExpired
        case .replayedConsent: .cardConsentReplayed
        case .notFromCardCA: .cardNotFromCardCa
        case .certificateExpired, .certificateNotYetValid: .cardCertificateExpired
        case .notSignatureCertificate: .cardNotSignatureCertificate
        case .badSignature: .cardBadSignature
        case .certificateRevoked: .cardCertificateRevoked
        case .statusUnavailable: .unavailable
        }
        return WireError(code, error.description)
    }
}

extension MatcherServer {
    /// The card path from `[card]`, or nil when no card CA is configured. A CA file that cannot be
    /// read or is not a certificate is a configuration error (exit 78), found at start.
    static func cardLinks(_ settings: MatcherConfig.Card, store: RegistryStore, logger: Logger) throws -> CardLinks? {
        guard let path = settings.caBundle else { return nil }
        let pem: String
        do {
            pem = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw MatcherError.card(path, "cannot read it: \(error.localizedDescription)")
        }
        guard CardConsentVerifier.isCertificate(pem) else { throw MatcherError.card(path, "not a PEM certificate") }
        let ledger: CardConsentLedger
        do {
            ledger = try CardConsentLedger(store: store)
        } catch {
            throw MatcherError.registry(store.path, "\(error)")
        }
        // Revocation status: OCSP, the CRL when the responder cannot be reached, else a refusal
        // (fail closed), exactly as the adapter's card login checks it.
        let policy = CardStatusPolicy(ocspURL: settings.ocspURL.flatMap { URL(string: $0) }, crlPath: settings.crl,
                                      maxStatusAge: TimeInterval(settings.maxStatusAge / .milliseconds(1)) / 1000,
                                      timeout: settings.ocspTimeout)
        let verifier = CardConsentVerifier(cardCAPEM: pem, maxConsentLifetime: settings.maxConsentLifetime / .seconds(1),
                                           statusCheck: CardStatusChecker(policy: policy, transport: HTTPOCSPTransport()))
        return CardLinks(verifier: verifier, ledger: ledger, logger: logger)
    }
}
