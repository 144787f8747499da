import COpenSSL
import Foundation

/// Sends one DER OCSP request to a responder and returns the DER response. A protocol so that the
/// verifier library stays free of any one HTTP stack: `HTTPOCSPTransport` (AsyncHTTPClient) is the
/// real one. Any thrown error means "unreachable" and sends the check to the CRL.
public protocol OCSPTransport: Sendable {
    func post(_ request: [UInt8], to url: URL, timeout: Duration) async throws -> [UInt8]
}

/// How a login checks the user certificate's revocation status.
public struct CardStatusPolicy: Sendable {
    /// The responder; when nil, the certificate's authorityInfoAccess OCSP URL.
    public var ocspURL: URL?
    /// A CRL file (PEM or DER) published by the card authority: the fallback when the responder
    /// cannot be reached. Read at each fallback, so a newly published CRL is used at once.
    public var crlPath: String?
    /// An OCSP answer older than this (thisUpdate) is refused as stale.
    public var maxStatusAge: TimeInterval
    /// Tolerated clock difference with the responder for thisUpdate in the future.
    public var clockSkew: TimeInterval
    /// Refuse an answer without the request's nonce (off only for responders that pre-sign).
    public var requireNonce: Bool
    public var timeout: Duration

    public init(ocspURL: URL? = nil, crlPath: String? = nil, maxStatusAge: TimeInterval = 300, clockSkew: TimeInterval = 60,
                requireNonce: Bool = true, timeout: Duration = .seconds(5)) {
        self.ocspURL = ocspURL; self.crlPath = crlPath; self.maxStatusAge = maxStatusAge
        self.clockSkew = clockSkew; self.requireNonce = requireNonce; self.timeout = timeout
    }
}

/// Where a login's "good" came from.
public struct CardStatusEvidence: Sendable, Equatable {
    public enum Source: String, Sendable { case ocsp, crl }
    public var source: Source
    /// OCSP thisUpdate, or the CRL's lastUpdate.
    public var thisUpdate: Date
    public var nextUpdate: Date?
}

/// Checks a card certificate's status: OCSP first (nonce, signature by the card CA or its
/// delegated signer, for this certificate, fresh), the CRL only when the responder is unreachable,
/// and a refusal when neither gives a fresh answer (fail closed).
public struct CardStatusChecker: Sendable {
    public let policy: CardStatusPolicy
    let transport: any OCSPTransport

    public init(policy: CardStatusPolicy, transport: any OCSPTransport) {
        self.policy = policy
        self.transport = transport
    }

    func check(_ certificate: X509Box, issuer: X509Box, now: Date) async throws(CardLoginError) -> CardStatusEvidence {
        let url = policy.ocspURL ?? certificate.ocspResponderURL()
        var unreachable = url == nil ? "no OCSP responder configured or named by the certificate" : ""
        if let url {
            let query = try OCSPQuery(certificate: certificate, issuer: issuer)
            do {
                let response = try await transport.post(query.der, to: url, timeout: policy.timeout)
                if let evidence = try answer(query.check(response, ca: issuer, now: now, requireNonce: policy.requireNonce), source: .ocsp, now: now) {
                    return evidence
                }
                unreachable = "the responder answered without a status"
            } catch let error as CardLoginError {
                throw error
            } catch {
                unreachable = "the responder is unreachable: \(error)"
            }
        }
        return try crlFallback(certificate, issuer: issuer, now: now, why: unreachable)
    }

    private func crlFallback(_ certificate: X509Box, issuer: X509Box, now: Date, why: String) throws(CardLoginError) -> CardStatusEvidence {
        guard let path = policy.crlPath else { throw .statusUnavailable(why + "; no CRL configured") }
        guard let data = FileManager.default.contents(atPath: path) else { throw .statusUnavailable(why + "; the CRL cannot be read") }
        var raw = lc_status_answer()
        let code = Array(data).withUnsafeBufferPointer { lc_crl_check($0.baseAddress, $0.count, issuer.pointer, certificate.pointer, &raw) }
        switch Int(code) {
        case LC_STATUS_CHECK_OK: break
        case LC_STATUS_CHECK_BAD_SIGNATURE: throw .statusUnavailable(why + "; the CRL is not signed by the card CA")
        default: throw .statusUnavailable(why + "; the CRL cannot be parsed")
        }
        // A CRL is fresh until its nextUpdate; one without nextUpdate never is (RFC 5280 requires it).
        guard raw.has_next_update != 0, Double(raw.next_update) > now.timeIntervalSince1970,
              Double(raw.this_update) <= now.timeIntervalSince1970 + policy.clockSkew else {
            throw .statusUnavailable(why + "; the CRL is past its nextUpdate")
        }
        guard let evidence = try answer(raw, source: .crl, now: now, checkAge: false) else {
            throw .statusUnavailable(why + "; the CRL gives no status")
        }
        return evidence
    }

    /// The verdict of a checked answer; nil for an unsigned error answer (tryLater and the like),
    /// which carries no status and counts as "responder unreachable".
    private func answer(_ result: (code: Int32, raw: lc_status_answer), source: CardStatusEvidence.Source, now: Date)
        throws(CardLoginError) -> CardStatusEvidence? {
        switch Int(result.code) {
        case LC_STATUS_CHECK_OK: return try answer(result.raw, source: source, now: now, checkAge: true)
        case LC_STATUS_CHECK_NOT_SUCCESSFUL: return nil
        case LC_STATUS_CHECK_BAD_SIGNATURE: throw .unsignedOrBadlySignedStatus
        case LC_STATUS_CHECK_OTHER_CERTIFICATE: throw .statusForAnotherSerial
        case LC_STATUS_CHECK_NONCE_MISMATCH, LC_STATUS_CHECK_NONCE_ABSENT: throw .replayedStatus
        default: throw .unsignedOrBadlySignedStatus  // not an OCSP response at all
        }
    }

    private func answer(_ raw: lc_status_answer, source: CardStatusEvidence.Source, now: Date, checkAge: Bool)
        throws(CardLoginError) -> CardStatusEvidence? {
        let thisUpdate = Date(timeIntervalSince1970: TimeInterval(raw.this_update))
        let nextUpdate = raw.has_next_update != 0 ? Date(timeIntervalSince1970: TimeInterval(raw.next_update)) : nil
        if checkAge {
            // Freshness before the verdict: a stale "revoked" is as untrustworthy as a stale "good".
            let age = now.timeIntervalSince1970 - thisUpdate.timeIntervalSince1970
            guard age <= policy.maxStatusAge, age >= -policy.clockSkew else { throw .staleStatus }
            if let nextUpdate, nextUpdate <= now { throw .staleStatus }
        }
        switch Int(raw.cert_status) {
        case LC_CERT_STATUS_GOOD: return CardStatusEvidence(source: source, thisUpdate: thisUpdate, nextUpdate: nextUpdate)
        case LC_CERT_STATUS_REVOKED:
            if Int(raw.reason) == LC_REASON_CERTIFICATE_HOLD { throw .suspended }
            throw .revoked(reason: raw.reason >= 0 ? Int(raw.reason) : nil)
        default: throw .unknownStatus
        }
    }
}

/// One OCSP request (its CertID and nonce kept for the check of the answer).
final class OCSPQuery {
    let pointer: OpaquePointer
    let der: [UInt8]

    init(certificate: X509Box, issuer: X509Box) throws(CardLoginError) {
        var generator = SystemRandomNumberGenerator()
        let nonce = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        guard let query = nonce.withUnsafeBufferPointer({ lc_ocsp_query_new(certificate.pointer, issuer.pointer, $0.baseAddress, $0.count) }) else {
            ERR_clear_error()
            throw .statusUnavailable("cannot build an OCSP request")
        }
        pointer = query
        guard let bio = BIO_new(BIO_s_mem()) else { lc_ocsp_query_free(query); throw .statusUnavailable("out of memory") }
        defer { BIO_free(bio) }
        guard lc_ocsp_query_der(query, bio) == 1 else { lc_ocsp_query_free(query); throw .statusUnavailable("cannot encode an OCSP request") }
        var data: UnsafePointer<CChar>?
        let length = lc_pki_bio_mem_data(bio, &data)
        der = data.map { Array(UnsafeRawBufferPointer(start: $0, count: length)) } ?? []
    }

    deinit { lc_ocsp_query_free(pointer) }

    func check(_ response: [UInt8], ca: X509Box, now: Date, requireNonce: Bool) -> (code: Int32, raw: lc_status_answer) {
        var raw = lc_status_answer()
        let code = response.withUnsafeBufferPointer {
            lc_ocsp_query_check(pointer, $0.baseAddress, $0.count, ca.pointer, Int64(now.timeIntervalSince1970), requireNonce ? 1 : 0, &raw)
        }
        return (code, raw)
    }
}
