import Foundation
@testable import LinkcoreDaemon
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Which files the daemon takes as its master secret (issue 12, finding 16b).
@Suite struct MasterSecretTests {
    final class Directory {
        let path: String
        init() throws {
            path = NSTemporaryDirectory() + "linkcore-secret-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        func secret(_ relative: String, mode: Int) throws -> String {
            let file = path + "/" + relative
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: file, contents: Data(repeating: 7, count: 32), attributes: [.posixPermissions: mode])
            return file
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test func aCredentialIsAFileInsideTheCredentialsDirectoryNotAPathThatStartsLikeIt() throws {
        let dir = try Directory()
        let credentials = ["CREDENTIALS_DIRECTORY": dir.path + "/credentials/linkcored.service"]
        // systemd's credential files are 0400 with an ACL for the service user: taken as they are.
        let inside = try dir.secret("credentials/linkcored.service/master.key", mode: 0o444)
        #expect(try MasterSecret.load(inside, environment: credentials).count == 32)
        // A sibling directory whose name merely starts with the credentials directory's is not it:
        // its world-readable file is refused like any other.
        let sibling = try dir.secret("credentials/linkcored.service-evil/master.key", mode: 0o644)
        #expect(throws: MasterSecretError.self) { try MasterSecret.load(sibling, environment: credentials) }
        let escaping = credentials["CREDENTIALS_DIRECTORY"]! + "/../linkcored.service-evil/master.key"
        #expect(throws: MasterSecretError.self) { try MasterSecret.load(escaping, environment: credentials) }
        #expect(!MasterSecret.isCredential(sibling, environment: credentials))
        #expect(!MasterSecret.isCredential(inside, environment: [:]))
    }

    @Test func aPlainFileMustBeTheDaemonsOwnAndPrivate() throws {
        let dir = try Directory()
        let own = try dir.secret("master.key", mode: 0o600)
        #expect(try MasterSecret.load(own, environment: [:]).count == 32)
        let readable = try dir.secret("readable.key", mode: 0o640)
        let error = try #require(throws: MasterSecretError.self) { try MasterSecret.load(readable, environment: [:]) }
        #expect(error.description.contains("chmod 600"))
    }

    /// A 0600 file that another user owns can be rewritten by that user under the daemon.
    @Test(.enabled(if: geteuid() == 0, "only root can make a file another user owns"))
    func aPrivateFileOwnedBySomeoneElseIsRefused() throws {
        let dir = try Directory()
        let foreign = try dir.secret("foreign.key", mode: 0o600)
        #expect(chown(foreign, 61_875, 61_875) == 0)
        let error = try #require(throws: MasterSecretError.self) { try MasterSecret.load(foreign, environment: [:]) }
        #expect(error.description.contains("uid 61875"), "\(error)")
    }

    @Test func wipingLeavesZerosInPlace() {
        var secret: [UInt8] = Array(repeating: 0xA5, count: 32)
        secret.wipe()
        #expect(secret == Array(repeating: 0, count: 32))
    }
}
