import COpenSSL
import Foundation
import LinkcoreJPKI

/// The card authority's OCSP responder (RFC 6960), without the transport: a DER OCSPRequest in,
/// a DER OCSPResponse out. Status comes from a `CertificateStatusSource` (the authority's store);
/// responses are signed by a delegated signer the card CA certified, carry the request's nonce
/// when it has one, and say until when they hold (`nextUpdate` = now + `validity`).
///
/// Never throws and never traps on input: whatever the bytes, the answer is an OCSPResponse
/// (malformedRequest, unauthorized, tryLater or internalError when it cannot be a signed one).
public struct OCSPResponder: Sendable {
    /// At most this many CertIDs per request (RFC 5019 clients send one); more is malformedRequest,
    /// so one request cannot make the responder sign an arbitrarily large answer.
    public static let maximumEntries = 16

    private let keys: OCSPKeys
    private let source: any CertificateStatusSource
    public let validity: Duration
    private let clock: @Sendable () -> Date

    public init(caCertificatePEM: String, signerCertificatePEM: String, signerKeyPEM: String, source: any CertificateStatusSource,
                validity: Duration, clock: @escaping @Sendable () -> Date = { Date() }) throws {
        keys = try OCSPKeys(caPEM: caCertificatePEM, signerPEM: signerCertificatePEM, signerKeyPEM: signerKeyPEM)
        if keys.signerNotAfter <= clock() { throw OCSPSetupError.signerNotValid(notAfter: keys.signerNotAfter) }
        self.source = source
        self.validity = validity
        self.clock = clock
    }

    /// When the signer certificate expires: the responder must get a new one before then.
    public var signerNotAfter: Date { keys.signerNotAfter }

    public func respond(to request: [UInt8]) -> OCSPAnswer {
        let now = clock()
        guard let parsed = request.withUnsafeBufferPointer({ lc_ocsp_request_parse($0.baseAddress, $0.count) }) else {
            ERR_clear_error()
            return .failure(.malformedRequest)
        }
        defer { lc_ocsp_request_free(parsed) }
        let count = Int(lc_ocsp_request_count(parsed))
        guard (1...Self.maximumEntries).contains(count) else { return .failure(.malformedRequest) }

        var entries: [(index: Int32, status: CertificateStatus)] = []
        var ours = 0
        for index in 0..<Int32(count) {
            var serial = [CChar](repeating: 0, count: 96)
            let issuer = lc_ocsp_request_entry(parsed, index, keys.ca, &serial, serial.count)
            guard issuer >= 0 else { ERR_clear_error(); return .failure(.malformedRequest) }
            guard issuer == 1 else {
                // Another CA's certificate: this responder knows nothing about it (§2.2 "unknown").
                entries.append((index, .unknown))
                continue
            }
            ours += 1
            let serialHex = String(decoding: serial.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            do {
                entries.append((index, try source.status(serialHex: serialHex)))
            } catch {
                // The store cannot answer now (busy, being replaced): the client may retry.
                return .failure(.tryLater)
            }
        }
        // Not one certificate of the card CA: not a question for this responder (§2.3).
        guard ours > 0 else { return .failure(.unauthorized) }

        let thisUpdate = now
        let nextUpdate = now.addingTimeInterval(Double(validity.components.seconds) + Double(validity.components.attoseconds) * 1e-18)
        guard let basic = lc_ocsp_basic_new() else { return .failure(.internalError) }
        defer { lc_ocsp_basic_free(basic) }
        for entry in entries {
            let (status, reason, revokedAt): (Int32, Int32, Date) = switch entry.status {
            case .good: (V_OCSP_CERTSTATUS_GOOD, -1, now)
            case .unknown: (V_OCSP_CERTSTATUS_UNKNOWN, -1, now)
            case .revoked(let at, let reason): (V_OCSP_CERTSTATUS_REVOKED, Int32(reason.rawValue), at)
            }
            guard lc_ocsp_basic_add(basic, parsed, entry.index, status, reason, Self.epoch(revokedAt), Self.epoch(thisUpdate),
                                    Self.epoch(nextUpdate)) == 1 else {
                ERR_clear_error()
                return .failure(.internalError)
            }
        }
        var out: UnsafeMutablePointer<UInt8>?
        let length = lc_ocsp_basic_sign_response(basic, parsed, keys.signer, keys.key, &out)
        guard let der = takeDER(length, out) else {
            ERR_clear_error()
            return .failure(.internalError)
        }
        return OCSPAnswer(der: der, status: .successful, nextUpdate: Date(timeIntervalSince1970: TimeInterval(Self.epoch(nextUpdate))))
    }

    static func epoch(_ date: Date) -> Int64 { Int64(date.timeIntervalSince1970.rounded(.down)) }
}

/// One OCSPResponse: its DER, its status and, for a signed one, until when it holds (which bounds
/// how long an HTTP cache may keep it).
public struct OCSPAnswer: Sendable, Equatable {
    public var der: [UInt8]
    public var status: OCSPResponseStatus
    public var nextUpdate: Date?

    /// An unsuccessful response: only its status, no signature (RFC 6960 §2.3).
    public static func failure(_ status: OCSPResponseStatus) -> OCSPAnswer {
        var out: UnsafeMutablePointer<UInt8>?
        let length = lc_ocsp_error_response(status.rawValue, &out)
        // Encoding six fixed bytes cannot fail short of memory exhaustion; this is their DER then.
        let der = takeDER(length, out) ?? [0x30, 0x03, 0x0A, 0x01, UInt8(truncatingIfNeeded: status.rawValue)]
        return OCSPAnswer(der: der, status: status, nextUpdate: nil)
    }
}

/// OCSPResponseStatus (RFC 6960 §4.2.1).
public enum OCSPResponseStatus: Int32, Sendable, Equatable {
    case successful = 0
    case malformedRequest = 1
    case internalError = 2
    case tryLater = 3
    case unauthorized = 6
}
