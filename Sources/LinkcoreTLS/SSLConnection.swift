// One OpenSSL `SSL` object with two memory BIOs: all raw pointer work of the handler is here.

import COpenSSL
import NIOCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Owns an `SSL` (and, through `SSL_set_bio`, its two memory BIOs). Freed exactly once, in
/// `deinit`, when the handler drops its reference. Event-loop bound, not Sendable.
final class SSLConnection {
    private let ssl: OpaquePointer
    /// Ciphertext from the network, read by OpenSSL.
    private let networkIn: OpaquePointer
    /// Ciphertext produced by OpenSSL, to be sent to the network.
    private let networkOut: OpaquePointer
    let role: TLSRole
    /// Keeps the SSL_CTX alive at least as long as the SSL.
    private let context: TLSContext

    /// The largest plaintext passed to one SSL_write (one TLS record).
    static let maxRecordPlaintext = 16 * 1024

    init(context: TLSContext) throws {
        OpenSSLErrors.clear()
        guard let ssl = SSL_new(context.pointer) else {
            throw TLSError.internalError("SSL_new: \(OpenSSLErrors.drain())")
        }
        guard let rbio = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw TLSError.internalError("BIO_new: \(OpenSSLErrors.drain())")
        }
        guard let wbio = BIO_new(BIO_s_mem()) else {
            BIO_free(rbio)
            SSL_free(ssl)
            throw TLSError.internalError("BIO_new: \(OpenSSLErrors.drain())")
        }
        SSL_set_bio(ssl, rbio, wbio)  // the SSL owns both BIOs from here
        self.ssl = ssl
        self.networkIn = rbio
        self.networkOut = wbio
        self.role = context.role
        self.context = context

        switch context.role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client:
            if let name = context.configuration.serverName {
                guard lc_ssl_set_expected_peer_name(ssl, name) == 1 else {
                    throw TLSError.invalidConfiguration("serverName \(name): \(OpenSSLErrors.drain())")
                }
            }
            SSL_set_connect_state(ssl)
        }
        OpenSSLErrors.clear()
    }

    deinit {
        SSL_free(self.ssl)
    }

    // MARK: - Ciphertext in and out

    /// Queues ciphertext from the network for OpenSSL.
    func feed(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count, let base = bytes.baseAddress {
                let chunk = min(bytes.count - offset, Int(Int32.max))
                // A memory BIO only fails to grow on allocation failure.
                let written = BIO_write(self.networkIn, base + offset, Int32(chunk))
                if written <= 0 { break }
                offset += Int(written)
            }
        }
    }

    /// All ciphertext OpenSSL produced since the last call, as one buffer; nil if none.
    func drainCiphertext(allocator: ByteBufferAllocator) -> ByteBuffer? {
        let pending = lc_bio_pending(self.networkOut)
        guard pending > 0 else { return nil }
        var buffer = allocator.buffer(capacity: pending)
        while true {
            let available = lc_bio_pending(self.networkOut)
            if available == 0 { break }
            let want = min(available, Int(Int32.max))
            let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { target -> Int in
                guard let base = target.baseAddress else { return 0 }
                let n = BIO_read(self.networkOut, base, Int32(want))
                return n > 0 ? Int(n) : 0
            }
            if read == 0 { break }
        }
        return buffer
    }

    // MARK: - Handshake

    enum HandshakeResult {
        case complete
        case wantMore
        case failed(String)
    }

    func handshake() -> HandshakeResult {
        OpenSSLErrors.clear()
        let rc = SSL_do_handshake(self.ssl)
        if rc == 1 {
            OpenSSLErrors.clear()
            return .complete
        }
        let error = SSL_get_error(self.ssl, rc)
        switch error {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            OpenSSLErrors.clear()
            return .wantMore
        default:
            return .failed(self.failureDescription(sslError: error))
        }
    }

    private func failureDescription(sslError: Int32) -> String {
        var message = OpenSSLErrors.drain(fallback: Self.describe(sslError: sslError))
        let verify = SSL_get_verify_result(self.ssl)
        if verify != X509_V_OK, self.role == .client, let text = X509_verify_cert_error_string(verify) {
            message += " (\(String(cString: text)))"
        }
        return message
    }

    private static func describe(sslError: Int32) -> String {
        switch sslError {
        case SSL_ERROR_ZERO_RETURN: return "peer closed the TLS session"
        case SSL_ERROR_SYSCALL: return "unexpected end of TLS stream"
        case SSL_ERROR_SSL: return "TLS protocol error"
        default: return "SSL error \(sslError)"
        }
    }

    // MARK: - Application data

    enum ReadOutcome {
        /// Everything available was read; more ciphertext is needed.
        case wantMore
        /// The peer sent close_notify.
        case closeNotify
        case failed(TLSError)
    }

    /// The most plaintext the next SSL_read can return: what OpenSSL has decrypted already plus
    /// the ciphertext queued (a record's plaintext is never larger than the record), capped at
    /// one record and at least 1 (so that SSL_read runs and says WANT_READ). Asking for a whole
    /// record's room every time made each read burst allocate 16 KiB and grow it to 32 KiB
    /// (copying) for a 60-byte ping (issue 18's profile: memmove 6 % of the ping path).
    var plaintextBound: Int {
        let queued = Int(SSL_pending(self.ssl)) + lc_bio_pending(self.networkIn)
        return max(1, min(queued, Self.maxRecordPlaintext))
    }

    /// Decrypts everything available, appending plaintext to `buffer`.
    func readPlaintext(into buffer: inout ByteBuffer) -> ReadOutcome {
        OpenSSLErrors.clear()
        while true {
            var rc: Int32 = 0
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: self.plaintextBound) { target -> Int in
                guard let base = target.baseAddress else { return 0 }
                var count = 0
                rc = SSL_read_ex(self.ssl, base, target.count, &count)
                return rc == 1 ? count : 0
            }
            if rc == 1 { continue }
            let error = SSL_get_error(self.ssl, rc)
            switch error {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                OpenSSLErrors.clear()
                return .wantMore
            case SSL_ERROR_ZERO_RETURN:
                OpenSSLErrors.clear()
                return .closeNotify
            default:
                let (message, alert) = OpenSSLErrors.drainWithAlertFlag()
                let text = message ?? Self.describe(sslError: error)
                return .failed(alert ? .alertReceived(text) : .ioError(text))
            }
        }
    }

    /// Encrypts `bytes` in records of at most 16 KiB. Returns an error description on failure.
    func writePlaintext(_ buffer: ByteBuffer) -> TLSError? {
        OpenSSLErrors.clear()
        return buffer.withUnsafeReadableBytes { bytes -> TLSError? in
            var offset = 0
            while offset < bytes.count, let base = bytes.baseAddress {
                let chunk = min(bytes.count - offset, Self.maxRecordPlaintext)
                var written = 0
                let rc = SSL_write_ex(self.ssl, base + offset, chunk, &written)
                if rc != 1 {
                    let error = SSL_get_error(self.ssl, rc)
                    let (message, alert) = OpenSSLErrors.drainWithAlertFlag()
                    let text = message ?? Self.describe(sslError: error)
                    return alert ? .alertReceived(text) : .ioError(text)
                }
                offset += written
            }
            return nil
        }
    }

    /// Queues our close_notify (the caller drains and sends it).
    func shutdown() {
        OpenSSLErrors.clear()
        _ = SSL_shutdown(self.ssl)
        OpenSSLErrors.clear()
    }

    // MARK: - Peer

    /// The identity in the peer's leaf certificate, or nil if it sent none.
    func peerIdentity() -> PeerIdentity? {
        guard let cert = SSL_get1_peer_certificate(self.ssl) else { return nil }
        defer { X509_free(cert) }
        var orgURIs: Int32 = 0
        let uri = Self.takeString(lc_x509_first_san_uri_with_prefix(cert, PeerIdentity.orgURIPrefix, &orgURIs))
        var notAfter: Date?
        var epoch: Int64 = 0
        if lc_x509_not_after_epoch(cert, &epoch) == 1 {
            notAfter = Date(timeIntervalSince1970: TimeInterval(epoch))
        }
        var identity = PeerIdentity(
            orgCode: uri.flatMap(PeerIdentity.orgCode(fromURI:)),
            subject: Self.takeString(lc_x509_subject_oneline(cert)) ?? "",
            serialHex: Self.takeString(lc_x509_serial_hex(cert)) ?? "",
            notAfter: notAfter,
            orgURICount: Int(orgURIs)
        )
        identity.nodeName = nodeName(cert)
        OpenSSLErrors.clear()
        return identity
    }

    /// The first verification failure recorded by the server's verify callback.
    func firstVerifyFailure() -> CertificateRejection? {
        var depth: Int32 = -1
        let code = lc_ssl_first_verify_error(self.ssl, &depth)
        guard code != X509_V_OK else { return nil }
        var description = "verify error \(code)"
        if let text = X509_verify_cert_error_string(Int(code)) {
            description = String(cString: text)
        }
        if depth >= 0 { description += " at depth \(depth)" }
        return CertificateRejection.fromVerifyError(code, description: description)
    }

    static func takeString(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        defer { lc_openssl_free(pointer) }
        return String(cString: pointer)
    }
}
