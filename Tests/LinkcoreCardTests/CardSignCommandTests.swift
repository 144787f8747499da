import Foundation
import LinkcoreCardVerifier
import Testing

/// `linkcore-card sign` reads the bytes before the PIN: a login challenge or a link consent is
/// shown (who asks, until when); an expired one, opaque bytes and bytes for the other key are
/// refused without reading the PIN (a wrong PIN on standard input would cost a retry otherwise).
@Suite("linkcore-card sign shows the request before the PIN")
struct CardSignCommandTests {
    let signPIN = "abc123XYZ"
    let authPIN = "1234"

    func personalised() async throws -> SoftCard {
        let card = try await SoftCard(signPIN: signPIN, authPIN: authPIN)
        guard try await card.card("personalise", stdin: "\(signPIN)\n\(authPIN)\n").status == 0 else { throw CardTestFailure("personalise") }
        return card
    }

    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func aLoginChallengeAndAConsentAreShownBeforeThePIN() async throws {
        let card = try await personalised()
        defer { card.cleanup() }
        let challenge = CardLoginVerifier(service: "BANK01", cardCAPEM: "").issueChallenge()
        let login = try await card.card("sign", ["--app", "auth", "--challenge", hex(challenge.bytes)], stdin: authPIN + "\n")
        #expect(login.status == 0, "\(login.stderr)")
        #expect(login.stderr.contains("login to service BANK01, valid until "))
        #expect(login.stderr.contains(" s left)"))
        #expect(login.stdout.trimmingCharacters(in: .whitespacesAndNewlines).count == 512)  // RSA-2048, hex

        let consent = CardLinkConsent.fresh(requester: "CITY01", lifetime: 120)
        let signed = try await card.card("sign", ["--app", "sign", "--challenge", hex(consent.bytes)], stdin: signPIN + "\n")
        #expect(signed.status == 0, "\(signed.stderr)")
        #expect(signed.stderr.contains("consent to a link for CITY01, valid until "))
    }

    @Test func refusalsComeBeforeThePINIsRead() async throws {
        let card = try await personalised()
        defer { card.cleanup() }
        // A wrong PIN waits on standard input each time: were it read, the token would count it.
        let expired = CardChallenge(service: "BANK01", expiresAt: Date().addingTimeInterval(-2), nonce: [UInt8](repeating: 1, count: 32))
        let late = try await card.card("sign", ["--challenge", hex(expired.bytes)], stdin: "9999\n")
        #expect(late.status == 10)
        #expect(late.stderr.hasPrefix("error: expired: refusing to sign an expired request: login to service BANK01"))

        let opaque = try await card.card("sign", ["--challenge", "00ff"], stdin: "9999\n")
        #expect(opaque.status == 11)
        #expect(opaque.stderr.hasPrefix("error: unrecognised-bytes:"))

        let challenge = CardLoginVerifier(service: "BANK01", cardCAPEM: "").issueChallenge()
        let otherKey = try await card.card("sign", ["--app", "sign", "--challenge", hex(challenge.bytes)], stdin: "wrongPIN99\n")
        #expect(otherKey.status == 12)
        #expect(otherKey.stderr.hasPrefix("error: other-application:"))
        let consent = CardLinkConsent.fresh(requester: "CITY01", lifetime: 120)
        #expect(try await card.card("sign", ["--app", "auth", "--challenge", hex(consent.bytes)], stdin: "9999\n").status == 12)

        // No PIN was tried: neither token reports a wrong one.
        let status = try await statuses(try card.card("status"))
        #expect(status["auth"]?.pin.countLow == false && status["sign"]?.pin.countLow == false)

        // --raw: the holder knowingly signs bytes as given.
        let raw = try await card.card("sign", ["--challenge", "00ff", "--raw"], stdin: authPIN + "\n")
        #expect(raw.status == 0)
        #expect(raw.stderr.contains("--raw: 2 bytes signed as given"))
    }
}
