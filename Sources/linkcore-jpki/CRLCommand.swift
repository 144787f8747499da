import ArgumentParser
import Foundation
import LinkcoreJPKI
import LinkcorePKI

#if canImport(Glibc)
import Glibc
#endif

/// The card CA's full CRL, published daily (systemd/linkcore-jpki-crl.timer) and on demand: every
/// certificate revoked or on hold, each entry with its reason code, a CRL number that only
/// increases (kept in the authority's store), thisUpdate now and nextUpdate N hours later.
struct CRLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crl", abstract: "Publish the card CA's CRL as DIR/crl.der and DIR/crl.pem (atomic replace).")
    @Option(help: "The authority's directory.") var dir: String
    /// 48 h by default: published daily, so one missed run does not leave verifiers without a
    /// fresh CRL (they fail closed without one).
    @Option(help: "Hours from now to the CRL's nextUpdate (1-720).") var nextUpdateHours: Int = 48
    @Option(help: "The CA's private key (default: DIR/ca.key; the systemd unit passes its credential).") var caKey: String?

    func validate() throws {
        guard (1...720).contains(nextUpdateHours) else { throw ValidationError("--next-update-hours must be between 1 and 720") }
    }

    func run() throws {
        let ca = try CardIssuance.loadCA(dir: dir, keyPath: caKey)
        let store = try CardAuthorityStore(path: dir + "/authority.db")
        // One publisher at a time (the daily unit and an operator's on-demand run): the number is
        // taken and the files replaced under the lock, so crl.pem never goes back to an older CRL.
        let lock = try AtomicFile.lock(dir + "/crl.lock")
        defer { close(lock) }
        let entries = try store.revokedCertificates().map {
            RevokedCertificate(serialHex: $0.serialHex, revocationDate: $0.at, reasonCode: $0.reason.rawValue)
        }
        let number = try store.nextCRLNumber()
        let now = Date()
        let nextUpdate = now.addingTimeInterval(TimeInterval(nextUpdateHours) * 3600)
        let pem = try ca.makeCRL(revoked: entries, thisUpdate: now, nextUpdate: nextUpdate, crlNumber: number)
        // DER first: a reader of crl.pem never sees a newer CRL than crl.der has (both are whole
        // files either way).
        try AtomicFile.replace(dir + "/crl.der", with: try PEM.der(pem), mode: 0o644)
        try AtomicFile.replace(dir + "/crl.pem", with: Array(pem.utf8), mode: 0o644)
        let object: [String: Any] = [
            "number": Int(number), "entries": entries.count,
            "thisUpdate": Int64(now.timeIntervalSince1970), "nextUpdate": Int64(nextUpdate.timeIntervalSince1970),
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
    }
}

/// One certificate's status as the CRL and OCSP report it (JSON).
struct CertificateStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certificate-status", abstract: "A card certificate's status: good, revoked (with reason) or unknown (JSON).")
    @Option(help: "The authority's directory.") var dir: String
    @Option(help: "The certificate's serial (hex).") var serial: String

    func run() throws {
        var object: [String: Any] = ["serial": serial.uppercased()]
        switch try CardAuthorityStore(path: dir + "/authority.db").status(serialHex: serial) {
        case .good: object["status"] = "good"
        case .unknown: object["status"] = "unknown"
        case .revoked(let at, let reason):
            object["status"] = "revoked"
            object["reason"] = "\(reason)"
            object["revokedAt"] = Int64(at.timeIntervalSince1970)
        }
        print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
    }
}

/// Replaces a file so that a reader sees the old or the new content, never a part, and a crash
/// leaves one of them: a temporary file in the same directory written and fsynced, renamed over
/// the old one, then the directory fsynced.
enum AtomicFile {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// An exclusive flock on `path` (created if missing); close the descriptor to release it.
    static func lock(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            close(fd)
            throw Failure(description: "cannot lock \(path): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    static func replace(_ path: String, with bytes: [UInt8], mode: mode_t) throws {
        func fail(_ what: String) -> Failure { Failure(description: "cannot \(what) \(path): \(String(cString: strerror(errno)))") }
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) }.flatMap { $0.isEmpty ? "/" : $0 } ?? "."
        // Unique per process, so two publications at once never write the same temporary file.
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw fail("create a temporary file for") }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                close(fd)
                unlink(temporary)
                throw fail("write")
            }
            offset += n
        }
        // The umask may have narrowed `mode`; a published CRL is world-readable on purpose.
        guard fchmod(fd, mode) == 0, fsync(fd) == 0 else {
            close(fd)
            unlink(temporary)
            throw fail("sync")
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw fail("rename over")
        }
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else { throw fail("open the directory of") }
        defer { close(dirFD) }
        guard fsync(dirFD) == 0 else { throw fail("sync the directory of") }
    }
}
