import COpenSSL

/// Turns a resident code into the keyed hash the core stores instead of the code itself:
/// HMAC-SHA256 under a key derived from the master secret. Without the master secret the
/// store's hashes cannot be matched against a list of resident codes.
public struct ResidentHasher: Sendable {
    private let key: [UInt8]

    public init(masterSecret: [UInt8]) throws {
        guard masterSecret.count >= 32 else { throw DomainError.weakMasterSecret(masterSecret.count) }
        key = try Self.hmac(key: masterSecret, data: Array("linkcore/resident-hash/v1".utf8))
    }

    public func hash(residentCode: String) throws -> [UInt8] {
        try Self.hmac(key: key, data: Array(residentCode.utf8))
    }

    static func hmac(key: [UInt8], data: [UInt8]) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length = 0
        let ok = key.withUnsafeBytes { k in
            data.withUnsafeBytes { d in
                out.withUnsafeMutableBytes { o in
                    EVP_Q_mac(nil, "HMAC", nil, "SHA256", nil, k.baseAddress, k.count, d.baseAddress, d.count,
                              o.baseAddress?.assumingMemoryBound(to: UInt8.self), o.count, &length)
                }
            }
        }
        guard ok != nil, length == 32 else { throw DomainError.crypto("HMAC-SHA256 failed") }
        return out
    }
}

public enum DomainError: Error, CustomStringConvertible, Sendable {
    case weakMasterSecret(Int)
    case crypto(String)
    case masterSecretUnreadable(String, String)

    public var description: String {
        switch self {
        case let .weakMasterSecret(n): return "the master secret has \(n) bytes; at least 32 are required"
        case let .crypto(what): return what
        case let .masterSecretUnreadable(path, why): return "cannot read the master secret at \(path): \(why)"
        }
    }
}
