import COpenSSL

/// A signed tree head (RFC 9162 §4.10 in spirit): the core's signature over the Merkle root of
/// the first `size` entries, made with the same key, pins and verifier as a checkpoint:
///
///     "linkcore/access-log-tree-head/v2" ‖ u64(size) ‖ root (32) ‖ u64(at_ms)
///
/// ECDSA over SHA-256, DER. With an entry's leaf hash and its audit path to this root, a
/// resident checks with openssl alone that his entry is in the log the core signed.
public struct SignedTreeHead: Sendable, Equatable {
    public var size: UInt64
    public var root: [UInt8]
    public var atMs: Int64
    public var signature: [UInt8]
    /// The signer's certificate, PEM.
    public var certificate: [UInt8]

    public init(size: UInt64, root: [UInt8], atMs: Int64, signature: [UInt8], certificate: [UInt8]) {
        self.size = size; self.root = root; self.atMs = atMs; self.signature = signature; self.certificate = certificate
    }

    public static func signedBytes(size: UInt64, root: [UInt8], atMs: Int64) -> [UInt8] {
        var bytes = Array("linkcore/access-log-tree-head/v2".utf8)
        AccessChain.append(size, to: &bytes)
        bytes += root
        AccessChain.append(UInt64(bitPattern: atMs), to: &bytes)
        return bytes
    }
}

extension CheckpointSigner {
    public func signTreeHead(size: UInt64, root: [UInt8], atMs: Int64) throws -> SignedTreeHead {
        let bytes = SignedTreeHead.signedBytes(size: size, root: root, atMs: atMs)
        var signature = [UInt8](repeating: 0, count: 512)
        var length = signature.count
        let ok = signature.withUnsafeMutableBufferPointer { sig in
            lc_audit_sign(privateKeyPath, bytes, bytes.count, sig.baseAddress, &length)
        }
        guard ok == 1 else { throw AuditError.signing("cannot sign with the key at \(privateKeyPath)") }
        return SignedTreeHead(size: size, root: root, atMs: atMs, signature: Array(signature.prefix(length)), certificate: certificate)
    }
}

extension CheckpointVerifier {
    /// The same checks as a checkpoint's: pinned core key, serverAuth, chains to the network CA,
    /// valid at the head's time, not revoked.
    public func verify(_ head: SignedTreeHead) -> Verdict {
        let bytes = SignedTreeHead.signedBytes(size: head.size, root: head.root, atMs: head.atMs)
        let pins = signerKeys.flatMap { $0 }
        var why = [CChar](repeating: 0, count: 256)
        let result = head.certificate.withUnsafeBufferPointer { cert in
            cert.withMemoryRebound(to: CChar.self) { pem in
                lc_audit_verify(pem.baseAddress, pem.count, caBundlePath, crlPath, pins, signerKeys.count,
                                head.atMs / 1000, bytes, bytes.count, head.signature, head.signature.count, &why, why.count)
            }
        }
        switch result {
        case 1: return .valid
        case 0: return .badSignature
        default: return .untrustedSigner(String(decoding: why.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }
}
