import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A tmpfs of a given size mounted on a test's directory (root only), detached at the end even
/// while files on it are still open (MNT_DETACH), so the temporary directory can go. For the
/// disk-full tests of the store and of the daemon.
public final class Tmpfs: @unchecked Sendable {  // used by one test at a time
    public private(set) var path = ""

    public init() {}

    public func mount(at path: String, size: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard Glibc.mount("tmpfs", path, "tmpfs", 0, "size=\(size),mode=0700") == 0 else {
            throw TestFailure("mount -t tmpfs on \(path): \(String(cString: strerror(errno))) (the tests must run as root)")
        }
        self.path = path
    }

    public func detach() {
        guard !path.isEmpty else { return }
        umount2(path, Int32(MNT_DETACH))
        path = ""
    }

    /// Writes zeros to `file` until its filesystem is full (ENOSPC), to the last byte.
    public static func fill(_ file: String) throws {
        let fd = open(file, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        guard fd >= 0 else { throw TestFailure("open \(file): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        for chunk in [1 << 16, 4096, 1] {
            let buffer = [UInt8](repeating: 0, count: chunk)
            while true {
                let written = buffer.withUnsafeBytes { write(fd, $0.baseAddress, chunk) }
                if written > 0 { continue }
                guard errno == ENOSPC else { throw TestFailure("write \(file): \(String(cString: strerror(errno)))") }
                break
            }
        }
        var info = statvfs()
        guard statvfs(file, &info) == 0, info.f_bavail == 0 else { throw TestFailure("\(file): the filesystem is not full") }
    }
}
