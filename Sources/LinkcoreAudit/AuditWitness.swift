#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The last head the core signed (position and hash), kept in a file outside the database.
///
/// Why: the checkpoints live in the same database file as the log. Whoever holds that file can
/// delete the checkpoints after entry k, rewrite the entries from k and recompute the chain; the
/// core's next checkpoint would then certify the forgery. The witness is out of that file's
/// reach: the core signs only a chain that still extends it, and `linkctl audit verify` checks
/// the log against it. It holds no secret, so it is written plainly (and also logged to the
/// journal with every checkpoint).
public struct AuditWitness: Sendable, Equatable {
    public var position: UInt64
    public var hash: [UInt8]
    public var atMs: Int64

    public init(position: UInt64, hash: [UInt8], atMs: Int64) {
        self.position = position; self.hash = hash; self.atMs = atMs
    }

    static let magic = "linkcore-audit-witness/v1"

    public var line: String { "\(Self.magic) \(position) \(Self.hex(hash)) \(atMs)\n" }

    public static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    static func parse(_ text: String) -> AuditWitness? {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count == 4, parts[0] == magic, let position = UInt64(parts[1]), position > 0, let atMs = Int64(parts[3]),
              parts[2].utf8.count == 64 else { return nil }
        let digits = Array(parts[2].utf8)
        var hash: [UInt8] = []
        for i in stride(from: 0, to: 64, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            hash.append(byte)
        }
        return AuditWitness(position: position, hash: hash, atMs: atMs)
    }

    /// The witness at `path`; nil when there is none yet. A file that exists but cannot be read
    /// or parsed is an error: the core must not sign on without its last head.
    public static func read(path: String) throws(AuditError) -> AuditWitness? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw .witness("cannot open the audit witness \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n > 0, let witness = parse(String(decoding: buffer.prefix(n), as: UTF8.self)) else {
            throw .witness("the audit witness \(path) is unreadable or corrupt")
        }
        return witness
    }

    /// Replaces the witness durably: a temporary file written and fsynced, renamed over the old
    /// one, then the directory fsynced, so a crash leaves either the old or the new witness.
    public func write(path: String) throws(AuditError) {
        func fail(_ what: String) -> AuditError {
            .witness("cannot \(what) the audit witness \(path): \(String(cString: strerror(errno)))")
        }
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) }.flatMap { $0.isEmpty ? "/" : $0 } ?? "."
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw fail("create") }
        let bytes = Array(line.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            close(fd)
            throw fail("write")
        }
        close(fd)
        guard rename(temporary, path) == 0 else { throw fail("rename") }
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else { throw fail("open the directory of") }
        defer { close(dirFD) }
        guard fsync(dirFD) == 0 else { throw fail("sync the directory of") }
    }
}
