import COpenSSL

/// Signs checkpoints with the core's private key (the TLS server key: the identity organisations
/// already trust), and attaches the matching certificate.
public struct CheckpointSigner: Sendable {
    public let privateKeyPath: String
    public let certificate: [UInt8]

    public init(privateKeyPath: String, certificatePEM: [UInt8]) {
        self.privateKeyPath = privateKeyPath
        self.certificate = certificatePEM
    }

    public func sign(position: UInt64, hash: [UInt8], atMs: Int64) throws -> AuditCheckpoint {
        let bytes = AuditCheckpoint.signedBytes(position: position, hash: hash, atMs: atMs)
        var signature = [UInt8](repeating: 0, count: 512)
        var length = signature.count
        let ok = signature.withUnsafeMutableBufferPointer { sig in
            lc_audit_sign(privateKeyPath, bytes, bytes.count, sig.baseAddress, &length)
        }
        guard ok == 1 else { throw AuditError.signing("cannot sign with the key at \(privateKeyPath)") }
        return AuditCheckpoint(position: position, hash: hash, atMs: atMs,
                               signature: Array(signature.prefix(length)), certificate: certificate)
    }
}

public enum AuditError: Error, CustomStringConvertible, Sendable {
    case signing(String)
    case witness(String)
    public var description: String {
        switch self { case let .signing(why), let .witness(why): return why }
    }
}

/// Checks a checkpoint's signature and that its signer is the core: the key is one of the
/// pinned core keys, the certificate is a serverAuth certificate that chains to the network CA
/// and was valid at the checkpoint's time, and (with a CRL) is not revoked. Any other
/// certificate of the network, such as an organisation's client certificate, signs nothing.
public struct CheckpointVerifier: Sendable {
    public let caBundlePath: String
    public let crlPath: String?
    /// SHA-256 fingerprints of the core's public keys (DER SubjectPublicKeyInfo), see
    /// ``keyFingerprint(certificatePEM:)``. Empty pins refuse every checkpoint.
    public let signerKeys: [[UInt8]]

    public init(caBundlePath: String, crlPath: String? = nil, signerKeys: [[UInt8]]) {
        self.caBundlePath = caBundlePath
        self.crlPath = crlPath
        self.signerKeys = signerKeys.filter { $0.count == 32 }
    }

    public enum Verdict: Sendable, Equatable {
        case valid, badSignature
        /// Not the core: the reason says which check failed.
        case untrustedSigner(String)
    }

    public func verify(_ checkpoint: AuditCheckpoint) -> Verdict {
        let bytes = AuditCheckpoint.signedBytes(position: checkpoint.position, hash: checkpoint.hash, atMs: checkpoint.atMs)
        let pins = signerKeys.flatMap { $0 }
        var why = [CChar](repeating: 0, count: 256)
        let result = checkpoint.certificate.withUnsafeBufferPointer { cert in
            cert.withMemoryRebound(to: CChar.self) { pem in
                lc_audit_verify(pem.baseAddress, pem.count, caBundlePath, crlPath, pins, signerKeys.count,
                                checkpoint.atMs / 1000, bytes, bytes.count,
                                checkpoint.signature, checkpoint.signature.count, &why, why.count)
            }
        }
        switch result {
        case 1: return .valid
        case 0: return .badSignature
        default:
            return .untrustedSigner(String(decoding: why.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }

    /// The SHA-256 of the certificate's DER SubjectPublicKeyInfo (what `[audit] signer_keys`
    /// lists), or nil when the PEM holds no certificate. Same as
    /// `openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum`.
    public static func keyFingerprint(certificatePEM: [UInt8]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: 32)
        let ok = certificatePEM.withUnsafeBufferPointer { cert in
            cert.withMemoryRebound(to: CChar.self) { lc_audit_key_fingerprint($0.baseAddress, $0.count, &out) }
        }
        return ok == 1 ? out : nil
    }

    /// Parses a fingerprint written as 64 hex digits, optionally with `sha256:` in front and
    /// colons between bytes.
    public static func parseFingerprint(_ text: String) -> [UInt8]? {
        var hex = Substring(text.lowercased())
        if hex.hasPrefix("sha256:") { hex = hex.dropFirst(7) }
        let digits = Array(hex.filter { $0 != ":" }.utf8)
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        for i in stride(from: 0, to: 64, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    public static func formatFingerprint(_ bytes: [UInt8]) -> String {
        "sha256:" + bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
