#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A module or table file opened once and then used only through its descriptor, so that what
/// was checked is what gets loaded: no window between a `stat` of the path and a `dlopen` or read
/// of it in which someone could swap the file.
///
/// Refused, each with its reason: a symbolic link as the file itself (`O_NOFOLLOW`), anything but
/// a regular file, a file owned by someone other than root or this process's user, a file group or
/// others may write, and a file in a directory group or others may write (they could replace it
/// between two reloads). These files decide what is lawful and run inside the core.
public final class SecureFile: Sendable {
    public let path: String
    let descriptor: Int32
    let identity: FileIdentity
    /// Set once the dynamic loader mapped the file: see `keepOpenForever`.
    private let kept = Atomic(false)

    /// `what` names the file in errors ("module file", "configuration").
    public init(path: String, what: String, reportedAs module: String? = nil) throws(PolicyLoadError) {
        let reported = module ?? path
        func refuse(_ message: String) -> PolicyLoadError { PolicyLoadError(.insecure, path: reported, message) }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else {
            if errno == ELOOP {
                throw refuse("refusing the \(what) \(path): it is a symbolic link; configure the file it points to")
            }
            throw PolicyLoadError(.io, path: reported, "cannot open the \(what) \(path): \(String(cString: strerror(errno)))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw PolicyLoadError(.io, path: reported, "cannot read the \(what) \(path): \(reason)")
        }
        do throws(PolicyLoadError) {
            guard (st.st_mode & S_IFMT) == S_IFREG else {
                throw PolicyLoadError(.io, path: reported, "the \(what) \(path) is not a regular file")
            }
            try Self.checkOwnerAndMode(st, what: "the \(what) \(path)", refuse: refuse)
            try Self.checkDirectory(of: path, what: what, refuse: refuse)
        } catch {
            close(fd)
            throw error
        }
        self.path = path
        descriptor = fd
        identity = FileIdentity(st)
    }

    deinit { if !kept.load(ordering: .acquiring) { close(descriptor) } }

    /// The path through which the dynamic loader opens this very file (not whatever the
    /// configured path names by then).
    var procPath: String { "/proc/self/fd/\(descriptor)" }

    /// The loader remembers an object by the name it was opened under and hands the same object
    /// back for that name. If the descriptor were closed, its number (and so the name
    /// /proc/self/fd/N) would come back for the next module, which would then get this one. Images
    /// are never unloaded, so neither is their descriptor closed: one per image ever loaded.
    func keepOpenForever() { kept.store(true, ordering: .releasing) }

    static func checkOwnerAndMode(_ st: stat, what: String, refuse: (String) -> PolicyLoadError) throws(PolicyLoadError) {
        let me = geteuid()
        guard st.st_uid == 0 || st.st_uid == me else {
            throw refuse("refusing \(what): owned by uid \(st.st_uid), expected root or this process's user (uid \(me))")
        }
        guard st.st_mode & 0o022 == 0 else {
            throw refuse("refusing \(what): group or others may write it (mode \(String(st.st_mode & 0o7777, radix: 8))); chmod go-w it")
        }
    }

    static func checkDirectory(of path: String, what: String, refuse: (String) -> PolicyLoadError) throws(PolicyLoadError) {
        let directory = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        var st = stat()
        guard stat(directory, &st) == 0 else {
            throw PolicyLoadError(.io, path: path, "cannot read the directory \(directory): \(String(cString: strerror(errno)))")
        }
        try checkOwnerAndMode(st, what: "the \(what) \(path): its directory \(directory)", refuse: refuse)
    }

    /// The whole file, read through the descriptor (for tables: at most 16 MiB).
    public func contents(limit: Int = 16 << 20) throws(PolicyLoadError) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var offset: off_t = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw PolicyLoadError(.io, path: path, "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { return result }
            result += buffer[0..<n]
            offset += off_t(n)
            guard result.count <= limit else { throw PolicyLoadError(.io, path: path, "\(path) is larger than \(limit) bytes") }
        }
    }
}
