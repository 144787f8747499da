import Foundation
import HTTPTypes
import LinkcoreWire

/// Every failure of the local API, whoever detects it (the guard, the body limit, the router,
/// the generated decoders, a route), is one of these and is written by `APIErrorMiddleware` as
/// `{"error": {code, number, message, provider_code, retryable}}` (docs/adapter-openapi.json,
/// `Error`). Routes throw it rather than returning per-operation error cases, so that the JSON
/// shape and the WireError → status table exist once.
public struct APIFailure: Error, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var number: Int?
    public var providerCode: String?
    public var retryable = false
    /// Set on the guard's refusals: what follows a refused request on the wire is not trusted.
    var closeConnection = false

    /// The same failure, with the connection closed after it.
    var closing: APIFailure {
        var failure = self
        failure.closeConnection = true
        return failure
    }

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, number: Int? = nil,
         providerCode: String? = nil, retryable: Bool = false) {
        self.status = status; self.code = code; self.message = message
        self.number = number; self.providerCode = providerCode; self.retryable = retryable
    }

    struct Body: Encodable {
        struct Detail: Encodable {
            var code: String
            var number: Int?
            var message: String
            var providerCode: String?
            var retryable: Bool
            enum CodingKeys: String, CodingKey {
                case code, number, message, providerCode = "provider_code", retryable
            }
        }
        var error: Detail
    }

    var json: Data {
        let body = Body(error: .init(code: code, number: number, message: message, providerCode: providerCode, retryable: retryable))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding five plain fields cannot fail; the fallback keeps the shape regardless.
        return (try? encoder.encode(body)) ?? Data(#"{"error":{"code":"INTERNAL","message":"","retryable":false}}"#.utf8)
    }

    static func badRequest(_ message: String) -> APIFailure { APIFailure(.badRequest, "INVALID_ARGUMENT", message) }

    /// A core error as HTTP: the status says what kind of failure it is; the body keeps the code.
    static func from(_ error: WireError) -> APIFailure {
        let status: HTTPResponse.Status = switch error.code {
        case .invalidArgument, .invalidLinkCode, .matchFailed, .invalidMatchingNumber: .unprocessableContent
        // Links made by card: the certificate or the consent was refused (the code says which).
        case .cardBadSignature, .cardNotFromCardCa, .cardCertificateExpired, .cardNotSignatureCertificate,
             .cardConsentExpired, .cardConsentReplayed, .cardConsentOtherRequester, .cardCertificateRevoked: .unprocessableContent
        case .notFound: .notFound
        case .notPermitted, .permissionDenied: .forbidden
        case .providerRefused: .badGateway
        case .providerTimeout, .deadlineExceeded: .gatewayTimeout
        case .rateLimited, .tooManyInFlight: .tooManyRequests
        case .unavailable, .providerUnavailable, .shuttingDown: .serviceUnavailable
        default: .internalServerError
        }
        return APIFailure(status, errorName(error.code), error.message, number: error.code.rawValue,
                          providerCode: error.providerCode.isEmpty ? nil : error.providerCode, retryable: error.retryable)
    }

    /// `providerRefused` → `PROVIDER_REFUSED`, the name in common.proto and docs/protocol.md.
    static func errorName(_ code: LCErrorCode) -> String {
        var name = "\(code)"
        if let paren = name.firstIndex(of: "(") { name = String(name[..<paren]) }
        var out = ""
        for c in name {
            if c.isUppercase && !out.isEmpty { out.append("_") }
            out.append(contentsOf: c.uppercased())
        }
        return out
    }
}
