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
    public var description: String {
        switch self { case let .signing(why): return why }
    }
}

/// Checks a checkpoint's signature, and that its certificate was issued by a trusted CA.
public struct CheckpointVerifier: Sendable {
    public let caBundlePath: String

    public init(caBundlePath: String) { self.caBundlePath = caBundlePath }

    public enum Verdict: Sendable, Equatable { case valid, badSignature, untrustedSigner }

    public func verify(_ checkpoint: AuditCheckpoint) -> Verdict {
        let bytes = AuditCheckpoint.signedBytes(position: checkpoint.position, hash: checkpoint.hash, atMs: checkpoint.atMs)
        let result = checkpoint.certificate.withUnsafeBufferPointer { cert in
            cert.withMemoryRebound(to: CChar.self) { pem in
                lc_audit_verify(pem.baseAddress, pem.count, caBundlePath, bytes, bytes.count,
                                checkpoint.signature, checkpoint.signature.count)
            }
        }
        switch result {
        case 1: return .valid
        case 0: return .badSignature
        default: return .untrustedSigner
        }
    }
}
