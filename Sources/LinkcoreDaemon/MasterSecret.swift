import Foundation

/// Reads the master secret from which every link-code key and the resident-hash key derive.
/// It comes from a systemd credential or a file only its owner can read; it is never logged.
enum MasterSecret {
    static func load(_ path: String,
                     credentialsDirectory: String? = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"]) throws -> [UInt8] {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw MasterSecretError("cannot read the master secret at \(path): the file does not exist or is not readable")
        }
        let underCredentials = credentialsDirectory.map { !$0.isEmpty && path.hasPrefix($0) } ?? false
        if let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0, !underCredentials {
            throw MasterSecretError("the master secret \(path) is readable by group or others (mode \(String(mode, radix: 8))); chmod 600 it")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MasterSecretError("cannot read the master secret at \(path)")
        }
        guard data.count >= 32 else {
            throw MasterSecretError("the master secret \(path) has \(data.count) bytes; at least 32 random bytes are required (e.g. head -c 32 /dev/urandom)")
        }
        return Array(data)
    }
}

struct MasterSecretError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
