import COpenSSL

/// SHA-256 of bytes (PKCE's S256, JWK thumbprints): OpenSSL's one-shot digest.
public enum SHA256Digest {
    public static func hash(_ data: [UInt8]) throws(CryptoError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length = 0
        let ok = data.withUnsafeBytes { d in
            out.withUnsafeMutableBytes { o in
                EVP_Q_digest(nil, "SHA256", nil, d.baseAddress, d.count, o.baseAddress?.assumingMemoryBound(to: UInt8.self), &length)
            }
        }
        guard ok == 1, length == 32 else { throw .failed("SHA-256") }
        return out
    }
}

/// ES256 (ECDSA on P-256 with SHA-256, in JWS's r || s form) with a PEM private key read from its
/// file at each use: the portal's ID-token key, replaced on disk without a restart. The project's
/// one OpenSSL, not a second crypto stack for JOSE.
public struct ES256Key: Sendable {
    public let path: String
    /// The public point's coordinates, 32 bytes each (for the JWK).
    public let x: [UInt8]
    public let y: [UInt8]

    /// Reads the key once to learn its public half; throws if it is not a P-256 private key.
    public init(path: String) throws(CryptoError) {
        var x = [UInt8](repeating: 0, count: 32), y = [UInt8](repeating: 0, count: 32)
        guard lc_jws_es256_public(path, &x, &y) == 1 else { throw .failed("\(path) is not a readable P-256 (ES256) private key in PEM") }
        self.path = path; self.x = x; self.y = y
    }

    public func sign(_ data: [UInt8]) throws(CryptoError) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: 64)
        guard lc_jws_es256_sign(path, data, data.count, &signature) == 1 else { throw .failed("ES256 signing with \(path)") }
        return signature
    }

    public func verify(_ data: [UInt8], signature: [UInt8]) -> Bool {
        signature.count == 64 && lc_jws_es256_verify(path, data, data.count, signature) == 1
    }
}
