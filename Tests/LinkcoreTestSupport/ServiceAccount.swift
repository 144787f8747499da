import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The account linkcored, linkcore-matcher and linkcore-adapter run under in these tests: as the
/// systemd units run them (DynamicUser=yes, CapabilityBoundingSet= empty, NoNewPrivileges=yes),
/// never as root. A daemon run as root hides every call that needs a privilege: TCP_NODELAY set
/// at the wrong level is SO_DEBUG, which root may set and the unit may not, so every test passed
/// while the real service refused every connection (issue 11).
///
/// When the tests run as root, children are started through util-linux `setpriv` under this
/// unprivileged uid/gid with no groups, no capabilities (inheritable, bounding, hence permitted
/// and effective too) and no_new_privs; the test's temporary directory is handed over to that
/// uid first, as systemd hands a DynamicUser its StateDirectory. When the tests run as an
/// ordinary user, children simply run as that user.
public enum ServiceAccount {
    /// In the range systemd uses for DynamicUser (61184–65519); no passwd entry, as with a
    /// transient user the daemon cannot rely on one.
    public static let uid: uid_t = 61_874
    public static let gid: gid_t = 61_874
    public static let setpriv = "/usr/bin/setpriv"

    /// Whether children are started under `uid` (the tests run as root).
    public static var dropsPrivileges: Bool { geteuid() == 0 }

    /// The uid a child started as a service runs under.
    public static var expectedUID: uid_t { dropsPrivileges ? uid : geteuid() }

    /// Another unprivileged user, neither root nor the service's (admin socket tests).
    public static let otherUID: uid_t = 61_875

    /// The command prefix that starts a child as the unit would, or nothing when not root.
    public static var launcher: [String] { dropsPrivileges ? launcher(uid: uid, gid: gid) : [] }

    /// The prefix that starts a child as `uid`:`gid` with no groups and no capabilities (root only).
    public static func launcher(uid: uid_t, gid: gid_t) -> [String] {
        [setpriv, "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups",
         "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    }

    /// Gives `uid` the whole per-test temporary directory that holds `path` (config, PKI, state,
    /// notify socket, SQLite files): everything a test makes lives there, and files the test
    /// writes later stay readable (umask 022). Refuses a path outside a test directory, so that
    /// nothing else on the machine changes owner.
    public static func handOver(_ path: String) throws {
        guard dropsPrivileges else { return }
        let root = try testDirectory(holding: path)
        try chown(root)
        guard let walk = FileManager.default.enumerator(atPath: root) else { return }
        for case let relative as String in walk { try chown(root + "/" + relative) }
    }

    /// The `linkcore-XXXXXXXX` directory of `TempDirectory` that holds `path`.
    public static func testDirectory(holding path: String) throws -> String {
        let temp = URL(fileURLWithPath: NSTemporaryDirectory()).standardized.path
        let components = URL(fileURLWithPath: path).standardized.path.split(separator: "/").map(String.init)
        let tempComponents = temp.split(separator: "/").map(String.init)
        guard components.count > tempComponents.count, Array(components.prefix(tempComponents.count)) == tempComponents,
              components[tempComponents.count].hasPrefix("linkcore-") else {
            throw TestFailure("\(path) is not inside a test's temporary directory; not handing it to the service account")
        }
        return "/" + components.prefix(tempComponents.count + 1).joined(separator: "/")
    }

    private static func chown(_ path: String) throws {
        // lchown: a symbolic link in a test directory must not hand over what it points to.
        guard lchown(path, uid, gid) == 0 || errno == ENOENT else {
            throw TestFailure("chown \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// What /proc/<pid>/status says about a process's identity and privileges.
public struct ProcessCredentials {
    public var realUID: uid_t
    public var effectiveUID: uid_t
    public var effectiveCapabilities: UInt64
    public var permittedCapabilities: UInt64
    public var boundingCapabilities: UInt64
    public var noNewPrivileges: Bool

    public init(pid: pid_t) throws {
        let text = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        var fields: [String: [String]] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].split(whereSeparator: \.isWhitespace).map(String.init)
        }
        func number(_ key: String, _ index: Int = 0, radix: Int = 10) throws -> UInt64 {
            guard let values = fields[key], values.count > index, let value = UInt64(values[index], radix: radix) else {
                throw TestFailure("/proc/\(pid)/status has no \(key):\n\(text)")
            }
            return value
        }
        realUID = uid_t(try number("Uid", 0))
        effectiveUID = uid_t(try number("Uid", 1))
        effectiveCapabilities = try number("CapEff", radix: 16)
        permittedCapabilities = try number("CapPrm", radix: 16)
        boundingCapabilities = try number("CapBnd", radix: 16)
        noNewPrivileges = try number("NoNewPrivs") == 1
    }
}
