import COpenSSL

/// The hash chain that makes the access log tamper-evident.
///
/// hash(n) = SHA-256("linkcore/access-log/v1" ‖ hash(n-1) ‖ canonical(position n, entry n)),
/// with hash(0) = 32 zero bytes. The position is inside the hash, so an entry moved to another
/// place no longer verifies there; each hash covers all before it, so a deleted or altered entry
/// breaks every later link until the next signed checkpoint, which pins a position to a hash.
public enum AccessChain {
    public static let genesis = [UInt8](repeating: 0, count: 32)
    static let domain = Array("linkcore/access-log/v1".utf8)

    public static func hash(previous: [UInt8], position: UInt64, record: AccessRecord) -> [UInt8] {
        // A v2 entry (it carries the resident digest) links its Merkle leaf instead: AccessLeaf.
        if record.residentDigest != nil { return AccessLeaf.chainHash(previous: previous, position: position, record: record) }
        var bytes = domain
        bytes.reserveCapacity(256)
        bytes += previous
        append(position, to: &bytes)
        append(record.mediationID, to: &bytes)
        append(record.idCode, to: &bytes)
        append(UInt64(bitPattern: record.atMs), to: &bytes)
        append(record.requester, to: &bytes)
        append(record.provider, to: &bytes)
        append(record.bpID, to: &bytes)
        append(record.infoType, to: &bytes)
        append(UInt64(record.outcome.rawValue), to: &bytes)
        return sha256(bytes)
    }

    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        bytes.withUnsafeBytes { input in
            out.withUnsafeMutableBufferPointer { output in
                _ = EVP_Digest(input.baseAddress, input.count, output.baseAddress, &length, EVP_sha256(), nil)
            }
        }
        return out
    }

    static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes += $0 }
    }

    /// Strings are length-prefixed so that no two different entries share an encoding.
    static func append(_ value: String, to bytes: inout [UInt8]) {
        let utf8 = Array(value.utf8)
        append(UInt64(utf8.count), to: &bytes)
        bytes += utf8
    }
}
