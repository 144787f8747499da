import Foundation
import LinkcoreWire

/// One ProvideRequest as the organisation's system sees it: its own person ID, never a link code.
public struct ProvideQuestion: Sendable, Codable {
    public var mediationID: String
    public var bpID: String
    public var requesterOrg: String
    public var personID: String
    public var infoType: String
    public var query: String
    public var deadlineAtMs: Int64
}

/// Where a provider's answers come from. A failure is a `WireError` the core relays to the
/// asker as PROVIDER_REFUSED with `providerCode` (see `ProviderCodes`).
public protocol AnswerBackend: Sendable {
    func answer(_ question: ProvideQuestion) async -> Result<Data, WireError>
    var name: String { get }
}

/// The provider codes this adapter sends (relayed to the asker in `Error.provider_code`).
public enum ProviderCodes {
    /// The organisation holds nothing for this person and information type.
    public static let noRecord = "NO_RECORD"
    /// The organisation's system did not answer within `[backend] timeout_ms`.
    public static let backendTimeout = "BACKEND_TIMEOUT"
    /// The organisation's system could not be reached or failed (not 2xx, bad JSON).
    public static let backendFailed = "BACKEND_FAILED"

    static func refused(_ code: String, _ message: String) -> WireError {
        WireError(.providerRefused, message, providerCode: code)
    }
}
