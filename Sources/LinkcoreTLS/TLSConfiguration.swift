// TLS configuration and the shared, immutable OpenSSL context built from it.

import COpenSSL

/// What a `TLSContext` is built from. All paths name PEM files.
public struct TLSConfiguration: Sendable, Equatable {
    /// Our certificate followed by any intermediates. Required for a server; optional for a client.
    public var certificateChainPath: String?
    /// The private key for the first certificate of the chain.
    public var privateKeyPath: String?
    /// The CA bundle that peers must chain to.
    public var trustRootsPath: String
    /// A PEM CRL file; when set, peer certificates are checked against it (X509_V_FLAG_CRL_CHECK).
    public var crlPath: String?
    /// Client only: SNI and the name (DNS name or IP literal) the server certificate must match.
    public var serverName: String?

    public init(
        certificateChainPath: String? = nil,
        privateKeyPath: String? = nil,
        trustRootsPath: String,
        crlPath: String? = nil,
        serverName: String? = nil
    ) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
        self.trustRootsPath = trustRootsPath
        self.crlPath = crlPath
        self.serverName = serverName
    }
}

/// Whether a handler plays the TLS server or client.
public enum TLSRole: Sendable, Equatable {
    case server
    case client
}

/// An OpenSSL `SSL_CTX` configured from a `TLSConfiguration`.
///
/// `@unchecked Sendable`: the wrapped `SSL_CTX` is fully configured inside the factory methods
/// and never mutated afterwards; OpenSSL documents `SSL_new` and the other read-only uses of a
/// configured `SSL_CTX` (reference counted internally with atomics) as safe from many threads,
/// so one context can be shared by every event loop.
public final class TLSContext: @unchecked Sendable {
    let pointer: OpaquePointer
    public let role: TLSRole
    public let configuration: TLSConfiguration
    /// Server only: whether a client certificate naming one organisation is required (the
    /// network's mutual TLS). False for `webServer`: browsers present none.
    public private(set) var requiresClientCertificate: Bool
    /// Server only: which certificates it admits (organisations, or core nodes: TLSContext+Node.swift).
    public internal(set) var acceptedPeers: AcceptedPeers = .organisations

    private init(pointer: OpaquePointer, role: TLSRole, configuration: TLSConfiguration) {
        self.pointer = pointer
        self.role = role
        self.configuration = configuration
        self.requiresClientCertificate = role == .server
    }

    deinit {
        SSL_CTX_free(self.pointer)
    }

    /// A server context: presents `certificateChainPath`, requests a client certificate and
    /// records (rather than enforces) verification failures, see `TLSHandler`.
    public static func server(_ configuration: TLSConfiguration) throws -> TLSContext {
        guard configuration.certificateChainPath != nil, configuration.privateKeyPath != nil else {
            throw TLSError.invalidConfiguration("a server needs certificateChainPath and privateKeyPath")
        }
        let context = try self.make(role: .server, configuration)
        lc_ssl_ctx_set_verify_record_first(context.pointer)
        // No session tickets, no session cache: every connection does a full handshake.
        guard SSL_CTX_set_num_tickets(context.pointer, 0) == 1 else {
            throw TLSError.invalidConfiguration("SSL_CTX_set_num_tickets: \(OpenSSLErrors.drain())")
        }
        _ = lc_ssl_ctx_set_session_cache_off(context.pointer)
        // Advertise the accepted CAs in the CertificateRequest.
        if let names = SSL_load_client_CA_file(configuration.trustRootsPath) {
            SSL_CTX_set_client_CA_list(context.pointer, names)
        }
        OpenSSLErrors.clear()
        return context
    }

    /// A server context for browsers (the resident's portal): presents `certificateChainPath`,
    /// requests no client certificate and accepts every client at the TLS layer; who the user
    /// is, is the application's business (sessions). Same TLS 1.3-only settings otherwise.
    public static func webServer(_ configuration: TLSConfiguration) throws -> TLSContext {
        guard configuration.certificateChainPath != nil, configuration.privateKeyPath != nil else {
            throw TLSError.invalidConfiguration("a server needs certificateChainPath and privateKeyPath")
        }
        let context = try self.make(role: .server, configuration)
        context.requiresClientCertificate = false
        guard SSL_CTX_set_num_tickets(context.pointer, 0) == 1 else {
            throw TLSError.invalidConfiguration("SSL_CTX_set_num_tickets: \(OpenSSLErrors.drain())")
        }
        _ = lc_ssl_ctx_set_session_cache_off(context.pointer)
        OpenSSLErrors.clear()
        return context
    }

    /// A client context: verification of the server is strict (the handshake fails).
    public static func client(_ configuration: TLSConfiguration) throws -> TLSContext {
        let context = try self.make(role: .client, configuration)
        lc_ssl_ctx_set_verify_strict(context.pointer)
        _ = lc_ssl_ctx_set_session_cache_off(context.pointer)
        return context
    }

    private static func make(role: TLSRole, _ configuration: TLSConfiguration) throws -> TLSContext {
        OpenSSLErrors.clear()
        let method = role == .server ? TLS_server_method() : TLS_client_method()
        guard let ctx = SSL_CTX_new(method) else {
            throw TLSError.invalidConfiguration("SSL_CTX_new: \(OpenSSLErrors.drain())")
        }
        // From here `context` owns ctx and frees it if we throw.
        let context = TLSContext(pointer: ctx, role: role, configuration: configuration)

        // TLS 1.3 only: every peer of the core is ours or follows docs/protocol.md, which requires it.
        guard lc_ssl_ctx_set_min_proto_version(ctx, TLS1_3_VERSION) == 1 else {
            throw TLSError.invalidConfiguration("minimum version: \(OpenSSLErrors.drain())")
        }
        _ = lc_ssl_ctx_set_options(ctx, lc_ssl_op_no_renegotiation() | lc_ssl_op_no_compression())
        _ = lc_ssl_ctx_set_mode(ctx, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
        _ = lc_ssl_ctx_clear_mode(ctx, Int(SSL_MODE_RELEASE_BUFFERS))

        guard SSL_CTX_load_verify_locations(ctx, configuration.trustRootsPath, nil) == 1 else {
            throw TLSError.invalidConfiguration(
                "trust roots \(configuration.trustRootsPath): \(OpenSSLErrors.drain())")
        }
        switch (configuration.certificateChainPath, configuration.privateKeyPath) {
        case let (chain?, key?):
            guard SSL_CTX_use_certificate_chain_file(ctx, chain) == 1 else {
                throw TLSError.invalidConfiguration("certificate chain \(chain): \(OpenSSLErrors.drain())")
            }
            guard SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 else {
                throw TLSError.invalidConfiguration("private key \(key): \(OpenSSLErrors.drain())")
            }
            guard SSL_CTX_check_private_key(ctx) == 1 else {
                throw TLSError.invalidConfiguration("private key does not match certificate: \(OpenSSLErrors.drain())")
            }
        case (nil, nil):
            break
        default:
            throw TLSError.invalidConfiguration("certificateChainPath and privateKeyPath go together")
        }
        if let crl = configuration.crlPath {
            guard lc_ssl_ctx_load_crl_file(ctx, crl) > 0 else {
                throw TLSError.invalidConfiguration("CRL \(crl): \(OpenSSLErrors.drain())")
            }
        }
        OpenSSLErrors.clear()
        return context
    }
}

/// The OpenSSL thread-local error queue.
enum OpenSSLErrors {
    static func clear() {
        ERR_clear_error()
    }

    /// Every queued error as one string (oldest first), emptying the queue.
    static func drain(fallback: String = "unknown OpenSSL error") -> String {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            messages.append(self.describe(code))
        }
        return messages.isEmpty ? fallback : messages.joined(separator: "; ")
    }

    /// Like `drain`, and whether any queued error is a received TLS alert.
    static func drainWithAlertFlag() -> (message: String?, alert: Bool) {
        var messages: [String] = []
        var alert = false
        let offset = UInt(lc_ssl_alert_reason_offset())
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if lc_err_get_reason(code) >= offset { alert = true }
            messages.append(self.describe(code))
        }
        return (messages.isEmpty ? nil : messages.joined(separator: "; "), alert)
    }

    static func describe(_ code: UInt) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let message = buffer.withUnsafeMutableBufferPointer { pointer -> String in
            guard let base = pointer.baseAddress else { return "error \(code)" }
            ERR_error_string_n(code, base, pointer.count)
            return String(cString: base)
        }
        return message
    }
}
