import Foundation
import LinkcoreAdapterAPI
import LinkcoreCardVerifier

/// POST /card/challenge and /card/verify: the organisation's web site logs a resident in with the
/// number card (docs/card.md), through the verifier library configured by `[card]`.
extension AdapterAPI {
    func cardChallenge(_ input: Operations.CardChallenge.Input) async throws -> Operations.CardChallenge.Output {
        let verifier = try Self.cardVerifier(service)
        let challenge = verifier.issueChallenge()
        return .ok(.init(body: .json(.init(
            challengeHex: Self.hex(challenge.bytes), challengeText: String(decoding: challenge.bytes, as: UTF8.self),
            service: challenge.service, expiresAtMs: Self.milliseconds(challenge.expiresAt)))))
    }

    func cardVerify(_ input: Operations.CardVerify.Input) async throws -> Operations.CardVerify.Output {
        guard case let .json(body) = input.body else { throw APIFailure.badRequest("a JSON body is required") }
        let verifier = try Self.cardVerifier(service)
        guard let challenge = Self.bytes(hex: body.challengeHex) else { throw APIFailure.badRequest("challenge_hex is not hex") }
        guard let signature = Self.bytes(hex: body.signatureHex) else { throw APIFailure.badRequest("signature_hex is not hex") }
        let login: VerifiedLogin
        do throws(CardLoginError) {
            login = try await verifier.login(challenge: challenge, signature: signature, certificatePEM: body.certificatePem)
        } catch {
            throw Self.failure(error)
        }
        // `login` returns only with a status (it fails closed); the guard keeps the types honest.
        guard let status = login.status else { throw Self.failure(.statusUnavailable("no status")) }
        return .ok(.init(body: .json(.init(
            serial: login.serialHex, status: .good, statusSource: status.source == .ocsp ? .ocsp : .crl,
            statusThisUpdateMs: Self.milliseconds(status.thisUpdate), statusNextUpdateMs: status.nextUpdate.map(Self.milliseconds),
            notAfterMs: Self.milliseconds(login.notAfter)))))
    }

    static func cardVerifier(_ service: AdapterService) throws -> CardLoginVerifier {
        guard let verifier = service.card else {
            throw APIFailure(.notFound, "CARD_NOT_CONFIGURED", "this adapter has no [card] table: card logins are not set up")
        }
        return verifier
    }

    /// Every refusal as its own code: 422 for a login refused, 503 (retryable) when no status
    /// could be had, so that the web site can tell "try again" from "no".
    static func failure(_ error: CardLoginError) -> APIFailure {
        let code: String = switch error {
        case .malformedChallenge: "CARD_MALFORMED_CHALLENGE"
        case .otherService: "CARD_OTHER_SERVICE"
        case .expiredChallenge: "CARD_EXPIRED_CHALLENGE"
        case .unknownOrReplayedChallenge: "CARD_UNKNOWN_CHALLENGE"
        case .malformedCertificate: "CARD_MALFORMED_CERTIFICATE"
        case .notFromCardCA: "CARD_NOT_FROM_CARD_CA"
        case .certificateExpired: "CARD_CERTIFICATE_EXPIRED"
        case .certificateNotYetValid: "CARD_CERTIFICATE_NOT_YET_VALID"
        case .badSignature: "CARD_BAD_SIGNATURE"
        case .signatureCertificate: "CARD_SIGNATURE_CERTIFICATE"
        case .revoked: "CARD_REVOKED"
        case .suspended: "CARD_SUSPENDED"
        case .staleStatus: "CARD_STALE_STATUS"
        case .unsignedOrBadlySignedStatus: "CARD_BADLY_SIGNED_STATUS"
        case .statusForAnotherSerial: "CARD_STATUS_FOR_ANOTHER_SERIAL"
        case .replayedStatus: "CARD_REPLAYED_STATUS"
        case .unknownStatus: "CARD_UNKNOWN_STATUS"
        case .statusUnavailable: "CARD_STATUS_UNAVAILABLE"
        }
        if case .statusUnavailable = error {
            return APIFailure(.serviceUnavailable, code, error.description, retryable: true)
        }
        return APIFailure(.unprocessableContent, code, error.description)
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        // Digits only: Swift's integer parsing would also take a sign ("+f").
        guard digits.count % 2 == 0, digits.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x46).contains($0 & 0xDF) }) else {
            return nil
        }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(byte)
        }
        return out
    }

    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }
}
