import Foundation
import LinkcoreAdapterAPI

/// The local API's JSON request bodies as the adapter reads them, without a server: the generated
/// types' decoding (what swift-openapi-runtime's converter does with the body; no schema here
/// carries a date, so its date strategy never applies), then the adapter's own checks that need no
/// I/O. The entry of the fuzzing target `FuzzAdapterJSON` (Tests/Fuzz) and of its regression tests.
public enum AdapterRequestBodies {
    /// The operations that take a JSON body.
    public enum Body: UInt8, CaseIterable, Sendable {
        case link, signInLink, ask, acknowledgeEvents, notice, cardChallenge, cardVerify
    }

    /// nil when the adapter would take `json` as that operation's body, else why not (a 400).
    public static func problem(_ body: Body, json: [UInt8]) -> String? {
        let data = Data(json)
        let decoder = JSONDecoder()
        do {
            switch body {
            case .link:
                let request = AdapterAPI.linkRequest(try decoder.decode(Components.Schemas.LinkRequest.self, from: data))
                _ = try AdapterService.matchRequest(request)
            case .signInLink:
                _ = try decoder.decode(Components.Schemas.SignInLinkRequest.self, from: data)
            case .ask:
                let ask = try decoder.decode(Components.Schemas.AskRequest.self, from: data)
                if let ms = ask.deadlineMs, UInt32(exactly: ms) == nil { return "deadline_ms out of range" }
            case .acknowledgeEvents:
                let ack = try decoder.decode(Operations.AcknowledgeEvents.Input.Body.JsonPayload.self, from: data)
                if ack.eventIds.count > 1000 { return "at most 1000 event ids" }
            case .notice:
                _ = try decoder.decode(Components.Schemas.NoticeRequest.self, from: data)
            case .cardChallenge:
                _ = try decoder.decode(Components.Schemas.CardChallengeRequest.self, from: data)
            case .cardVerify:
                let verify = try decoder.decode(Components.Schemas.CardVerifyRequest.self, from: data)
                if AdapterAPI.bytes(hex: verify.challengeHex) == nil { return "challenge_hex is not hex" }
                if AdapterAPI.bytes(hex: verify.signatureHex) == nil { return "signature_hex is not hex" }
            }
        } catch {
            return "\(error)"
        }
        return nil
    }
}
