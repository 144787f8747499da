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
             .idleTimeout, .certificateRejected, .tooManyConnections, .orgMismatch:
            return true
        default:
            return false
        }
    }

    /// A readable name for logs, e.g. "frameTooLarge(2)".
    public var name: String { "\(self)(\(rawValue))" }
}
