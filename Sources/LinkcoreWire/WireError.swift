/// A refusal that can be sent to a peer as an `LCError`: a stable code and a message that never
/// contains resident data.
public struct WireError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: LCErrorCode
    public var message: String
    public var retryable: Bool
    public var retryAfterMs: UInt32
    public var providerCode: String

    public init(_ code: LCErrorCode, _ message: String, retryable: Bool? = nil, retryAfterMs: UInt32 = 0, providerCode: String = "") {
        self.code = code
        self.message = message
        self.retryable = retryable ?? code.isRetryable
        self.retryAfterMs = retryAfterMs
        self.providerCode = providerCode
    }

    public init(_ error: LCError) {
        self.init(error.code, error.message, retryable: error.retryable, retryAfterMs: error.retryAfterMs, providerCode: error.providerCode)
    }

    public var proto: LCError {
        var e = LCError()
        e.code = code
        e.message = message
        e.retryable = retryable
        e.retryAfterMs = retryAfterMs
        e.providerCode = providerCode
        return e
    }

    /// An envelope replying to request `id` with this error.
    public func envelope(id: UInt64) -> LCEnvelope {
        var envelope = LCEnvelope()
        envelope.id = id
        envelope.error = proto
        return envelope
    }

    public var description: String { "\(code.name): \(message)" }
}

extension LCErrorCode {
    /// Whether the same request may succeed if sent again later.
    public var isRetryable: Bool {
        switch self {
        case .shuttingDown, .tooManyConnections, .tooManyInFlight, .unavailable, .providerUnavailable,
             .providerTimeout, .rateLimited, .deadlineExceeded:
            return true
        default:
            return false
        }
    }

    /// Errors after which the sender closes the connection.
    public var closesConnection: Bool {
        switch self {
        case .malformedFrame, .frameTooLarge, .unsupportedVersion, .helloRequired, .frameTimeout,
             .idleTimeout, .certificateRejected, .tooManyConnections, .orgMismatch, .nodeCertificateRequired:
            return true
        default:
            return false
        }
    }

    /// A readable name for logs, e.g. "frameTooLarge(2)".
    public var name: String { "\(self)(\(rawValue))" }

    /// The name the .proto file gives the code, e.g. "NOT_FOUND": what peers see where the
    /// protocol names a code in a string (a provider's refusal relayed in `provider_code`).
    public var protoName: String {
        switch self {
        case .unspecified: return "ERROR_CODE_UNSPECIFIED"
        case .malformedFrame: return "MALFORMED_FRAME"
        case .frameTooLarge: return "FRAME_TOO_LARGE"
        case .malformedMessage: return "MALFORMED_MESSAGE"
        case .unsupportedVersion: return "UNSUPPORTED_VERSION"
        case .helloRequired: return "HELLO_REQUIRED"
        case .frameTimeout: return "FRAME_TIMEOUT"
        case .idleTimeout: return "IDLE_TIMEOUT"
        case .certificateRejected: return "CERTIFICATE_REJECTED"
        case .shuttingDown: return "SHUTTING_DOWN"
        case .tooManyConnections: return "TOO_MANY_CONNECTIONS"
        case .unknownMessage: return "UNKNOWN_MESSAGE"
        case .invalidArgument: return "INVALID_ARGUMENT"
        case .orgMismatch: return "ORG_MISMATCH"
        case .permissionDenied: return "PERMISSION_DENIED"
        case .tooManyInFlight: return "TOO_MANY_IN_FLIGHT"
        case .duplicateRequestID: return "DUPLICATE_REQUEST_ID"
        case .internal: return "INTERNAL"
        case .unavailable: return "UNAVAILABLE"
        case .deadlineExceeded: return "DEADLINE_EXCEEDED"
        case .invalidLinkCode: return "INVALID_LINK_CODE"
        case .matchFailed: return "MATCH_FAILED"
        case .invalidMatchingNumber: return "INVALID_MATCHING_NUMBER"
        case .orgUnknown: return "ORG_UNKNOWN"
        case .orgSuspended: return "ORG_SUSPENDED"
        case .notFound: return "NOT_FOUND"
        case .notPermitted: return "NOT_PERMITTED"
        case .providerUnavailable: return "PROVIDER_UNAVAILABLE"
        case .providerTimeout: return "PROVIDER_TIMEOUT"
        case .providerRefused: return "PROVIDER_REFUSED"
        case .policyFailure: return "POLICY_FAILURE"
        case .rateLimited: return "RATE_LIMITED"
        case .cardBadSignature: return "CARD_BAD_SIGNATURE"
        case .cardNotFromCardCa: return "CARD_NOT_FROM_CARD_CA"
        case .cardCertificateExpired: return "CARD_CERTIFICATE_EXPIRED"
        case .cardNotSignatureCertificate: return "CARD_NOT_SIGNATURE_CERTIFICATE"
        case .cardConsentExpired: return "CARD_CONSENT_EXPIRED"
        case .cardConsentReplayed: return "CARD_CONSENT_REPLAYED"
        case .cardConsentOtherRequester: return "CARD_CONSENT_OTHER_REQUESTER"
        case .cardCertificateRevoked: return "CARD_CERTIFICATE_REVOKED"
        case .nodeCertificateRequired: return "NODE_CERTIFICATE_REQUIRED"
        case .nodeNotHolding: return "NODE_NOT_HOLDING"
        case let .UNRECOGNIZED(value): return "\(value)"
        }
    }
}
