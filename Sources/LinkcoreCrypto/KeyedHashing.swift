import COpenSSL

/// HMAC-SHA256 (RFC 2104) and HKDF-SHA256 (RFC 5869): the core's one wrapper of each, shared by
/// the resident hash (LinkcoreDomain's `ResidentHasher`) and the link-code keys (LinkcoreLinkCodes).
public enum HMACSHA256 {
    public static let outputLength = 32

    public static func authenticate(key: UnsafeRawBufferPointer, data: [UInt8]) throws(CryptoError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: outputLength)
        var length = 0
        let ok = data.withUnsafeBytes { d in
            out.withUnsafeMutableBytes { o in
                EVP_Q_mac(nil, "HMAC", nil, "SHA256", nil, key.baseAddress, key.count, d.baseAddress, d.count,
                          o.baseAddress?.assumingMemoryBound(to: UInt8.self), o.count, &length)
            }
        }
        guard ok != nil, length == outputLength else { throw .failed("HMAC-SHA256") }
        return out
    }
}

public enum HKDFSHA256 {
    /// HKDF-Extract: `out` (32 bytes) = HMAC-SHA256(salt, ikm).
    public static func extract(salt: [UInt8], ikm: [UInt8], into out: UnsafeMutableRawBufferPointer) throws(CryptoError) {
        let ok = ikm.withUnsafeBufferPointer { ikm in
            salt.withUnsafeBufferPointer { salt in
                lc_lc_hkdf_extract(salt.baseAddress, salt.count, ikm.baseAddress, ikm.count,
                                   out.baseAddress?.assumingMemoryBound(to: UInt8.self), out.count)
            }
        }
        guard ok == 1 else { throw .failed("HKDF-Extract") }
    }

    /// HKDF-Expand of a pseudorandom key into `out.count` bytes.
    public static func expand(prk: UnsafeRawBufferPointer, info: [UInt8], into out: UnsafeMutableRawBufferPointer) throws(CryptoError) {
        let ok = info.withUnsafeBufferPointer { info in
            lc_lc_hkdf_expand(prk.baseAddress?.assumingMemoryBound(to: UInt8.self), prk.count,
                              info.baseAddress, info.count,
                              out.baseAddress?.assumingMemoryBound(to: UInt8.self), out.count)
        }
        guard ok == 1 else { throw .failed("HKDF-Expand") }
    }
}
