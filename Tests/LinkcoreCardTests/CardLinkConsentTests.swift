import Foundation
import LinkcoreCardVerifier
import Testing

/// The text a resident signs to consent to a link by card: one canonical form, nothing else parses.
@Suite("Card link consent text")
struct CardLinkConsentTests {
    let consent = CardLinkConsent(requester: "BANK01", expiresAt: Date(timeIntervalSince1970: 1_800_000_000),
                                  nonce: Array(repeating: 0xab, count: 32))

    @Test func theSignedBytesAreTheDocumentedTextAndParseBack() async throws {
        let text = "linkcore-card-link-consent/v1\nrequester=BANK01\nexpires=1800000000\nnonce=" + String(repeating: "ab", count: 32) + "\n"
        #expect(consent.bytes == Array(text.utf8))
        #expect(try CardLinkConsent(bytes: consent.bytes) == consent)
    }

    @Test func anythingButTheCanonicalFormIsMalformed() {
        let text = String(decoding: consent.bytes, as: UTF8.self)
        let variants = [
            text.uppercased(),                                                    // upper-case hex, header
            text.replacingOccurrences(of: "expires=1800000000", with: "expires=+1800000000"),
            text.replacingOccurrences(of: "expires=1800000000", with: "expires=01800000000"),
            text.replacingOccurrences(of: "requester=BANK01", with: "requester="),
            String(text.dropLast()),                                              // no final newline
            text + "extra=1\n",
            text.replacingOccurrences(of: "\n", with: "\r\n"),
            text.replacingOccurrences(of: "nonce=ab", with: "nonce="),              // 31 bytes
            text.replacingOccurrences(of: "linkcore-card-link-consent/v1", with: "linkcore-card-challenge/v1"),
        ]
        for variant in variants {
            #expect(throws: CardConsentError.malformedConsent, "\(variant.debugDescription)") { try CardLinkConsent(bytes: Array(variant.utf8)) }
        }
    }

    @Test func freshConsentsHaveRandomNoncesAndTheirLifetime() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let a = CardLinkConsent.fresh(requester: "BANK01", lifetime: 300, now: now)
        let b = CardLinkConsent.fresh(requester: "BANK01", lifetime: 300, now: now)
        #expect(a.nonce != b.nonce)
        #expect(a.nonce.count == 32)
        #expect(a.expiresAt == Date(timeIntervalSince1970: 1_800_000_300))
    }
}
