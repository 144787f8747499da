import Foundation
import LinkcoreJPKI
import LinkcoreTransport
import LinkcoreWire
import Logging
import Synchronization

/// The card authority's answers to licensed verifiers (Protos/linkcore/v1/card.proto): the user
/// certificate linked with a signature certificate (論理的なリンク), and the card's current user
/// certificate after renewals (certificate history). The requester is the TLS certificate's
/// organisation; the core says whether it is a licensed verifier, before anything about the serial
/// is looked at, so a refusal never tells whether a serial exists.
struct VerifierService: RequestHandling {
    let store: CardAuthorityStore
    /// `DIR/issued`: the authority's copy of every certificate it issued, `<SERIAL>.pem`.
    let issuedDirectory: String
    let licences: LicenceCheck
    let figures: VerifierFigures
    let metrics: Metrics
    let logger: Logger

    static let refusal = WireError(.permissionDenied, "the card authority answers licensed verifiers only")
    static let unavailable = WireError(.unavailable, "the card authority cannot confirm the requester's licence now", retryable: true)

    func admit(orgCode: String) -> Result<LCRole, WireError> {
        // Any certificate of the network CA may open a session; each request is checked with the
        // core (`LicenceCheck`) before it is answered.
        .success(.unspecified)
    }

    func handle(_ request: LCEnvelope, from peer: Peer, reply: Reply) {
        let reply = metrics.countingReplies(to: request, reply)
        let question: Question
        switch request.body {
        case let .linkedCertificate(linked)?: question = .linked(signatureSerial: linked.signatureSerial)
        case let .certificateHistory(history)?: question = .history(userSerial: history.userSerial)
        default:
            return reply.fail(WireError(.unknownMessage, "\(request.bodyName) is not served by the card authority"))
        }
        Task {
            let result = await answer(question, from: peer.orgCode)
            figures.record(result)
            logger.info("verifier request", metadata: [
                "org": "\(peer.orgCode)", "request": "\(request.bodyName)",
                "outcome": "\(result.failureCode)",
            ])
            reply(result)
        }
    }

    enum Question {
        case linked(signatureSerial: String)
        case history(userSerial: String)
    }

    func answer(_ question: Question, from orgCode: String) async -> Result<LCEnvelope.OneOf_Body, WireError> {
        switch await licences.check(orgCode) {
        case .licensed: break
        case .refused: return .failure(Self.refusal)
        case .unavailable: return .failure(Self.unavailable)
        }
        do {
            switch question {
            case let .linked(serial):
                guard Self.isSerial(serial) else { return .failure(Self.badSerial("signature_serial")) }
                guard let user = try store.linkedUserCertificate(signatureSerial: serial) else {
                    return .failure(WireError(.notFound, "no signature certificate with that serial"))
                }
                return .success(.linkedCertificateResponse(.with { $0.userSerial = user }))
            case let .history(serial):
                guard Self.isSerial(serial) else { return .failure(Self.badSerial("user_serial")) }
                guard let history = try store.userCertificateHistory(userSerial: serial) else {
                    return .failure(WireError(.notFound, "no user certificate with that serial"))
                }
                let der = try certificateDER(serial: history.currentSerial)
                return .success(.certificateHistoryResponse(.with {
                    $0.currentSerial = history.currentSerial
                    $0.currentCertificate = der
                    $0.askedGeneration = UInt32(clamping: history.askedGeneration)
                    $0.currentGeneration = UInt32(clamping: history.currentGeneration)
                    $0.earlierSerials = history.earlierSerials
                }))
            }
        } catch {
            logger.error("card authority store failure", metadata: ["error": "\(error)"])
            return .failure(WireError(.unavailable, "the card authority's records are unavailable", retryable: true))
        }
    }

    /// A serial as verifiers hold it: hex digits, either case, no separators (at most 20 octets, RFC 5280).
    static func isSerial(_ text: String) -> Bool {
        (1...40).contains(text.utf8.count) && text.utf8.allSatisfy { (48...57).contains($0) || (65...70).contains($0) || (97...102).contains($0) }
    }

    static func badSerial(_ field: String) -> WireError {
        WireError(.invalidArgument, "\(field) must be 1-40 hex digits")
    }

    /// The issued certificate's DER from the authority's copy.
    func certificateDER(serial: String) throws -> Data {
        let pem = try String(contentsOfFile: "\(issuedDirectory)/\(serial.uppercased()).pem", encoding: .utf8)
        return Data(try PEM.der(pem))
    }
}

extension Result where Failure == WireError {
    /// For logs: "answered", or the refusal's code.
    var failureCode: String {
        switch self {
        case .success: return "answered"
        case let .failure(error): return "\(error.code)"
        }
    }
}

/// What the authority has answered since it started, for its systemd STATUS= line.
final class VerifierFigures: Sendable {
    struct Snapshot: Sendable {
        var answered: UInt64 = 0
        var refused: UInt64 = 0
        var unavailable: UInt64 = 0
    }

    private let state = Mutex(Snapshot())

    func record(_ result: Result<LCEnvelope.OneOf_Body, WireError>) {
        state.withLock { s in
            switch result {
            case .success: s.answered += 1
            case let .failure(error) where error.code == .unavailable: s.unavailable += 1
            case .failure: s.refused += 1
            }
        }
    }

    var snapshot: Snapshot { state.withLock { $0 } }
}
