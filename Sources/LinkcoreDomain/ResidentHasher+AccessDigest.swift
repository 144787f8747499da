/// The resident digest of the access log's v2 entries (LinkcoreAudit.AccessLeaf):
/// HMAC-SHA-256(key, u64(ID code)) under a key derived from the master secret
/// ("linkcore/access-log/resident-digest/v2"), so it is kept, backed up and rotated exactly as the
/// other core keys. The ID code never leaves the core; the digest says nothing without the key,
/// is the same for all of one resident's entries, and is given to his own portal only.
extension ResidentHasher {
    public func accessDigest(idCode: UInt64) throws -> [UInt8] {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: idCode.bigEndian) { bytes += $0 }
        return try accessKey.withUnsafeBytes { try Self.hmac(key: $0, data: bytes) }
    }
}

extension LinkService {
    /// The v2 resident digest of the resident with this ID code.
    public func accessDigest(_ idCode: UInt64) throws -> [UInt8] {
        try hasher.accessDigest(idCode: idCode)
    }
}
