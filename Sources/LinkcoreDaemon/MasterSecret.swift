import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads the master secret from which every link-code key and the resident-hash key derive.
/// It comes from a systemd credential or a file only the daemon's user owns and can read; it is
/// never logged, and the caller wipes it (`wipe()`) once the keys are derived.
enum MasterSecret {
    static func load(_ path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [UInt8] {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw MasterSecretError("cannot read the master secret at \(path): the file does not exist or is not readable")
        }
        // systemd made the credential directory (private to the service, files 0400 with an ACL
        // for the service user, owned by root): its files pass as they are. Anything else must be
        // the daemon's own file, unreadable to others: a file another user owns could be changed
        // under the daemon, whatever its mode says.
        if !isCredential(path, environment: environment) {
            guard info.st_uid == geteuid() else {
                throw MasterSecretError(
                    "the master secret \(path) belongs to uid \(info.st_uid), not to the daemon's user (uid \(geteuid())); chown it")
            }
            guard info.st_mode & 0o077 == 0 else {
                throw MasterSecretError(
                    "the master secret \(path) is readable by group or others (mode \(String(info.st_mode & 0o7777, radix: 8))); chmod 600 it")
            }
        }
        guard var data = FileManager.default.contents(atPath: path) else {
            throw MasterSecretError("cannot read the master secret at \(path)")
        }
        defer { data.resetBytes(in: 0..<data.count) }   // the file's bytes: zero Foundation's copy too
        guard data.count >= 32 else {
            throw MasterSecretError("the master secret \(path) has \(data.count) bytes; at least 32 random bytes are required (e.g. head -c 32 /dev/urandom)")
        }
        return Array(data)
    }

    /// Whether `path` names a file inside `$CREDENTIALS_DIRECTORY` (a whole path component
    /// match: `/run/credentials/x.service-evil/key` is not inside `/run/credentials/x.service`).
    static func isCredential(_ path: String, environment: [String: String]) -> Bool {
        guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else { return false }
        let base = URL(fileURLWithPath: directory).standardized.path
        let file = URL(fileURLWithPath: path).standardized.path
        return file.hasPrefix(base.hasSuffix("/") ? base : base + "/")
    }
}

extension Array where Element == UInt8 {
    /// Overwrites key material with zeros in place (the array must not be shared: a shared
    /// buffer would be copied first and the original left as it was).
    mutating func wipe() {
        withUnsafeMutableBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            explicit_bzero(base, bytes.count)
        }
    }
}

struct MasterSecretError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
