import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The local API's bearer token, kept in a file only the adapter's user may read (finding 9 of
/// issue 12: without it, any web page in a browser on the host could drive the API). At first
/// start the file is created with a random token; afterwards it is only read, and a file that
/// others may read or write, or that another user owns, stops the adapter.
public enum APIToken {
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads the token from `path`, creating the file (0600, 256 random bits as hex) if absent.
    public static func load(path: String) throws(Problem) -> String {
        create(path)
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw Problem(description: "cannot open the API token file \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Problem(description: "cannot stat the API token file \(path)") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw Problem(description: "the API token file \(path) is not a regular file") }
        guard info.st_mode & 0o077 == 0 else {
            throw Problem(description: "the API token file \(path) is readable or writable by others (mode \(String(info.st_mode & 0o777, radix: 8)); chmod 600 it)")
        }
        guard info.st_uid == geteuid() else { throw Problem(description: "the API token file \(path) is owned by another user") }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = read(fd, &bytes, bytes.count)
        guard count > 0 else { throw Problem(description: "the API token file \(path) is empty") }
        let token = String(decoding: bytes[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        // Printable ASCII without spaces, long enough not to be guessed.
        guard token.utf8.count >= 16, token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw Problem(description: "the API token in \(path) must be at least 16 printable characters without spaces")
        }
        return token
    }

    /// Creates the file with a fresh token when it does not exist (O_EXCL: never overwrites).
    @discardableResult private static func create(_ path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var generator = SystemRandomNumberGenerator()
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined() + "\n"
        let written = token.utf8.withContiguousStorageIfAvailable { write(fd, $0.baseAddress, $0.count) } ?? -1
        if written != token.utf8.count { unlink(path) }
        return written == token.utf8.count
    }

    /// Constant-time comparison, so that the time to refuse does not reveal a prefix of the token.
    static func matches(_ presented: some Collection<UInt8>, _ token: [UInt8]) -> Bool {
        let given = Array(presented)
        var difference = UInt8(given.count == token.count ? 0 : 1)
        for index in 0..<token.count { difference |= token[index] ^ (index < given.count ? given[index] : 0) }
        return difference == 0
    }
}
