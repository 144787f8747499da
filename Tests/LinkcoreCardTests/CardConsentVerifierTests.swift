import Foundation
import LinkcoreCardVerifier
import Synchronization
import Testing

/// The consent verifier on its own, with a real card: the facts it reads, and the status hook the
/// OCSP/CRL check will plug into (until then the matcher wires `NoCardStatusCheck`).
@Suite("Card consent verifier")
struct CardConsentVerifierTests {
    /// A status channel standing in for OCSP/CRL: answers what it is told and records what it was asked.
    final class FixedStatus: CardCertificateStatusChecking {
        let answer: CardCertificateStatusAnswer
        let asked = Mutex<[String]>([])
        init(_ answer: CardCertificateStatusAnswer) { self.answer = answer }
        func status(of certificate: CardCertificateIdentity, now: Date) async -> CardCertificateStatusAnswer {
            asked.withLock { $0.append(certificate.serialHex) }
            return answer
        }
    }

    @Test func readsTheFourFactsAsIssuedAndAsksTheStatusHookAboutThatCertificate() async throws {
        let login = CardLoginTests()
        let issued = try await login.issuedCard()
        defer { issued.card.cleanup() }
        let der = try #require(Self.der(issued.signaturePEM))
        let consent = CardLinkConsent.fresh(requester: "BANK01", lifetime: 120)
        let signature = try await login.sign(issued, consent.bytes, app: "sign")

        let good = FixedStatus(.good)
        let verified = try await CardConsentVerifier(cardCAPEM: issued.caPEM, statusCheck: good)
            .verify(certificateDER: der, consent: consent.bytes, signature: signature, requester: "BANK01")
        #expect(verified.facts == CertifiedFacts(name: "鈴木一郎", address: "東京都千代田区千代田1-1", dateOfBirth: "19800102", gender: "M"))
        #expect(verified.consent == consent)
        #expect(verified.certificate.der == der)
        #expect(good.asked.withLock { $0 } == [verified.certificate.serialHex])

        // Revoked or on hold: refused; no fresh answer: refused too (fail closed).
        for (answer, refusal) in [(CardCertificateStatusAnswer.revoked("affiliationChanged"), CardConsentError.certificateRevoked("affiliationChanged")),
                                  (.unavailable("responder unreachable"), .statusUnavailable("responder unreachable"))] {
            await #expect(throws: refusal) {
                try await CardConsentVerifier(cardCAPEM: issued.caPEM, statusCheck: FixedStatus(answer))
                    .verify(certificateDER: der, consent: consent.bytes, signature: signature, requester: "BANK01")
            }
        }
    }

    static func der(_ pem: String) -> [UInt8]? {
        guard let start = pem.range(of: "-----BEGIN CERTIFICATE-----"), let end = pem.range(of: "-----END CERTIFICATE-----") else { return nil }
        return Data(base64Encoded: String(pem[start.upperBound..<end.lowerBound].filter { !$0.isWhitespace })).map(Array.init)
    }
}
