import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `linkctl keys master-init --out FILE`: makes the master secret from which the core derives every
/// link-code key and the resident-hash key (docs/link-codes.md).
///
/// The format is raw binary: exactly 32 bytes from the operating system's CSPRNG (getrandom(2),
/// through `SystemRandomNumberGenerator`), no header, no encoding. linkcored reads the whole file and
/// accepts any file of 32 bytes or more. The file is created with mode 0600 and never overwritten:
/// replacing the master secret would make every link code already issued unreadable.
struct MasterInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "master-init",
        abstract: "Make the core's master secret: 32 random bytes, mode 0600, never overwriting a file.",
        discussion: "Raw binary, 32 bytes from the OS CSPRNG (getrandom). Keep it where linkcored.service loads it: "
            + "/etc/linkcore/credentials/master.key. Losing or replacing it makes every issued link code unusable: back it up.")

    @Option(help: ArgumentHelp("Where to write the master secret.", valueName: "file"))
    var out: String

    static let length = 32

    func run() throws {
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<Self.length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        if let failure = Self.createExclusively(out, contents: secret) {
            FileHandle.standardError.write(Data("linkctl: error: \(failure)\n".utf8))
            throw ExitCode.failure
        }
        print("wrote a new master secret to \(out) (\(Self.length) random bytes, mode 0600); back it up: every link code derives from it")
    }

    /// O_EXCL: refuses an existing file (or a symlink to one) rather than replacing a secret in use.
    /// The data and the directory entry are fsynced before success is reported. Returns the
    /// reason it failed, or nil.
    static func createExclusively(_ path: String, contents: [UInt8]) -> String? {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            let reason = errno == EEXIST ? "already exists; refusing to overwrite a master secret" : String(cString: strerror(errno))
            return "\(path): \(reason)"
        }
        var ok = fchmod(fd, 0o600) == 0   // whatever the umask
        var written = 0
        while ok && written < contents.count {
            let n = contents[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            ok = n > 0
            if ok { written += n }
        }
        ok = ok && fsync(fd) == 0
        let failure = String(cString: strerror(errno))
        close(fd)
        guard ok else {
            unlink(path)
            return "\(path): cannot write: \(failure)"
        }
        let directory = (path as NSString).deletingLastPathComponent
        let dirfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 { _ = fsync(dirfd); close(dirfd) }
        return nil
    }
}
