/// Why the domain refused or could not do what was asked: a stable code, a message that never
/// contains resident data, and whether the same request may succeed later. The domain's own
/// type: the daemon maps it to the wire's `LCErrorCode` once, at its edge
/// (Sources/LinkcoreDaemon/WireMapping/), with a test over every code.
public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Hashable, CaseIterable {
        case invalidArgument
        case permissionDenied
        case orgUnknown
        case orgSuspended
        case invalidLinkCode
        case invalidMatchingNumber
        case notPermitted
        case providerUnavailable
        case providerRefused
        case providerTimeout
        case policyFailure
        case unavailable

        /// Whether the same request may succeed if sent again later (unless a refusal says otherwise).
        public var isRetryable: Bool {
            switch self {
            case .unavailable, .providerUnavailable, .providerTimeout: return true
            case .invalidArgument, .permissionDenied, .orgUnknown, .orgSuspended, .invalidLinkCode,
                 .invalidMatchingNumber, .notPermitted, .providerRefused, .policyFailure:
                return false
            }
        }
    }

    public var code: Code
    public var message: String
    public var retryable: Bool
    /// Provider B's own code for a `providerRefused`, relayed to A; empty otherwise.
    public var providerCode: String

    public init(_ code: Code, _ message: String, retryable: Bool? = nil, providerCode: String = "") {
        self.code = code
        self.message = message
        self.retryable = retryable ?? code.isRetryable
        self.providerCode = providerCode
    }

    public var description: String { "\(code): \(message)" }
}
