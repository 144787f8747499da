import COpenSSL

/// Turns a resident code into the keyed hash the core stores instead of the code itself:
/// HMAC-SHA256 under a key derived from the master secret. Without the master secret the
/// store's hashes cannot be matched against a list of resident codes.
public struct ResidentHasher: Sendable {
    private let key: HashKey

    public init(masterSecret: [UInt8]) throws {
        guard masterSecret.count >= 32 else { throw DomainError.weakMasterSecret(masterSecret.count) }
        var derived = try masterSecret.withUnsafeBytes { try Self.hmac(key: $0, data: Array("linkcore/resident-hash/v1".utf8)) }
        key = HashKey(derived)
        OPENSSL_cleanse(&derived, derived.count)
    }

    public func hash(residentCode: String) throws -> [UInt8] {
        try Self.hmac(key: key.bytes, data: Array(residentCode.utf8))
    }

    static func hmac(key: UnsafeRawBufferPointer, data: [UInt8]) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length = 0
        let ok = data.withUnsafeBytes { d in
            out.withUnsafeMutableBytes { o in
                EVP_Q_mac(nil, "HMAC", nil, "SHA256", nil, key.baseAddress, key.count, d.baseAddress, d.count,
                          o.baseAddress?.assumingMemoryBound(to: UInt8.self), o.count, &length)
            }
        }
        guard ok != nil, length == 32 else { throw DomainError.crypto("HMAC-SHA256 failed") }
        return out
    }
}

/// The derived HMAC key in memory of its own, overwritten with zeros when the last hasher that
/// holds it is gone (a Swift array could be copied or freed without being wiped).
final class HashKey: @unchecked Sendable {  // immutable after init
    private let storage: UnsafeMutableRawBufferPointer

    init(_ bytes: [UInt8]) {
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
        storage.copyBytes(from: bytes)
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(storage) }

    deinit {
        OPENSSL_cleanse(storage.baseAddress, storage.count)
        storage.deallocate()
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
