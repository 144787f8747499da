import LinkcoreCrypto

/// Turns a resident code into the keyed hash the core stores instead of the code itself:
/// HMAC-SHA256 under a key derived from the master secret. Without the master secret the
/// store's hashes cannot be matched against a list of resident codes.
public struct ResidentHasher: Sendable {
    /// The derived HMAC key, in memory wiped when the last hasher that holds it is gone.
    private let key: SecretBytes
    /// The access log's resident-digest key (v2 entries, ResidentHasher+AccessDigest.swift).
    let accessKey: SecretBytes

    public init(masterSecret: [UInt8]) throws {
        guard masterSecret.count >= 32 else { throw DomainError.weakMasterSecret(masterSecret.count) }
        var derived = try masterSecret.withUnsafeBytes { try Self.hmac(key: $0, data: Array("linkcore/resident-hash/v1".utf8)) }
        defer { Crypto.wipe(&derived) }
        key = try SecretBytes(copying: derived)
        var access = try masterSecret.withUnsafeBytes { try Self.hmac(key: $0, data: Array("linkcore/access-log/resident-digest/v2".utf8)) }
        defer { Crypto.wipe(&access) }
        accessKey = try SecretBytes(copying: access)
    }

    public func hash(residentCode: String) throws -> [UInt8] {
        try key.withUnsafeBytes { try Self.hmac(key: $0, data: Array(residentCode.utf8)) }
    }

    static func hmac(key: UnsafeRawBufferPointer, data: [UInt8]) throws -> [UInt8] {
        do { return try HMACSHA256.authenticate(key: key, data: data) } catch { throw DomainError.crypto("HMAC-SHA256 failed") }
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
