#if canImport(Glibc)
import Glibc
#endif
import CLinkcorePolicy
import Foundation
import Synchronization

/// A loaded shared object and its validated table. Never dlclose'd: a Swift module registers
/// type metadata and conformances with the runtime, and C modules may leave threads or atexit
/// handlers behind, so unloading leaves dangling pointers. A replaced module is retired instead:
/// its instances are shut down, its code stays mapped (see docs/policy-modules.md).
final class ModuleImage: @unchecked Sendable {  // all stored properties are immutable; the table is static data
    let path: String
    /// What dlopen was given: `path`, or a private copy when the file changed since it was loaded.
    let loadedFrom: String
    let kind: PolicyKind
    let name: String
    let version: String
    let table: UnsafePointer<lc_policy_module>
    let initFunction: @convention(c) (
        UnsafePointer<CChar>?, UnsafePointer<UInt8>?, Int, UnsafePointer<lc_policy_host>?,
        UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<CChar>?, Int
    ) -> Int32
    let decide: @convention(c) (
        UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?,
        UnsafeMutablePointer<Int>?
    ) -> Int32
    let freeResult: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<UInt8>?, Int) -> Void
    let shutdown: @convention(c) (UnsafeMutableRawPointer?) -> Void

    /// Validates the table the way PostgreSQL checks its magic block: the frozen prefix first,
    /// through raw loads, so a table from another ABI version is never read past what it has.
    init(path: String, loadedFrom: String, table raw: UnsafeRawPointer, expected: PolicyKind) throws(PolicyLoadError) {
        func fail(_ kind: PolicyLoadError.Kind, _ message: String) -> PolicyLoadError {
            PolicyLoadError(kind, path: path, message)
        }
        let file = (path as NSString).lastPathComponent
        let magic = raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
        guard magic == LC_POLICY_MAGIC else {
            throw fail(
                .badMagic,
                "\(file) is not a linkcore policy module: its table starts with 0x\(String(magic, radix: 16)), expected 0x\(String(LC_POLICY_MAGIC, radix: 16)) (\"LCPM\")"
            )
        }
        let abi = raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        guard abi == LC_POLICY_ABI_VERSION else {
            throw fail(
                .abiMismatch,
                "module \(file) is ABI \(abi), this linkcored speaks ABI \(LC_POLICY_ABI_VERSION); rebuild it against the linkcore_policy.h of this release"
            )
        }
        let size = Int(raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        guard size >= MemoryLayout<lc_policy_module>.size else {
            throw fail(
                .badTable,
                "\(file)'s table is \(size) bytes, ABI \(LC_POLICY_ABI_VERSION) needs at least \(MemoryLayout<lc_policy_module>.size)")
        }
        let table = raw.assumingMemoryBound(to: lc_policy_module.self)
        let t = table.pointee
        let contract = t.contract.map { String(cString: $0) } ?? "(none)"
        guard contract == LC_POLICY_CONTRACT else {
            throw fail(
                .contractMismatch,
                "\(file) was built against contract \(contract), this linkcored speaks \(LC_POLICY_CONTRACT)")
        }
        guard let kind = PolicyKind(rawValue: t.kind) else {
            throw fail(.badTable, "\(file) declares unknown kind \(t.kind)")
        }
        guard kind == expected else {
            throw fail(.wrongKind, "\(file) is a \(kind) module but is configured as \(expected)")
        }
        guard let initFunction = t.`init`, let decide = t.decide, let freeResult = t.free_result,
            let shutdown = t.shutdown
        else {
            throw fail(.badTable, "\(file)'s table lacks init, decide, free_result or shutdown")
        }
        self.path = path
        self.loadedFrom = loadedFrom
        self.kind = kind
        self.name = t.name.map { String(cString: $0) } ?? file
        self.version = t.version.map { String(cString: $0) } ?? "?"
        self.table = table
        self.initFunction = initFunction
        self.decide = decide
        self.freeResult = freeResult
        self.shutdown = shutdown
    }
}

/// Every image a host has loaded, by configured path. Reloading a file that has not changed
/// reuses its image (only a new instance is made); a file replaced in place is loaded from a
/// private copy, because the dynamic loader would hand back the old image for the same name.
final class ImageCache: Sendable {
    private struct Entry {
        let identity: FileIdentity
        let handle: UnsafeMutableRawPointer
        let table: UnsafeRawPointer
        let loadedFrom: String
    }

    private struct Handles: @unchecked Sendable {  // raw dl handles and static tables, never freed
        var byPath: [String: [Entry]] = [:]
        var copies = 0
    }

    private let handles = Mutex(Handles())

    func image(path: String, kind: PolicyKind) throws(PolicyLoadError) -> ModuleImage {
        // Checked and loaded through one descriptor: see SecureFile.
        let file = try SecureFile(path: path, what: "module file")
        let identity = file.identity
        let (table, loadedFrom): (UnsafeRawPointer, String) = try handles.withLock { h throws(PolicyLoadError) in
            if let entry = h.byPath[path]?.first(where: { $0.identity == identity }) {
                return (entry.table, entry.loadedFrom)
            }
            var from = path
            var loadable = file
            if h.byPath[path] != nil {
                h.copies += 1
                loadable = try Self.privateCopy(of: file, number: h.copies)
                from = loadable.path
            }
            let (handle, table) = try Self.open(loadable, reportedAs: path)
            h.byPath[path, default: []].append(Entry(identity: identity, handle: handle, table: table, loadedFrom: from))
            return (table, from)
        }
        return try ModuleImage(path: path, loadedFrom: loadedFrom, table: table, expected: kind)
    }

    /// Images loaded so far (each is retired, never unloaded, when its set is replaced).
    var count: Int { handles.withLock { $0.byPath.values.reduce(0) { $0 + $1.count } } }

    /// dlopen through /proc/self/fd/N: the loader maps the very file that was checked.
    private static func open(_ file: SecureFile, reportedAs path: String) throws(PolicyLoadError) -> (
        UnsafeMutableRawPointer, UnsafeRawPointer
    ) {
        var error = [CChar](repeating: 0, count: 1024)
        guard let handle = lc_policy_dl_open(file.procPath, &error, error.count) else {
            throw PolicyLoadError(.notLoadable, path: path, "cannot load: \(text(error))")
        }
        file.keepOpenForever()
        guard let table = lc_policy_dl_entry(handle, &error, error.count) else {
            throw PolicyLoadError(
                .noEntryPoint, path: path,
                "not a linkcore policy module (\(LC_POLICY_ENTRY_POINT): \(text(error)))")
        }
        return (handle, UnsafeRawPointer(table))
    }

    /// Copies a replaced module file, from the descriptor that was checked, into a private
    /// directory (mode 0700) under a fresh name, and opens the copy the same careful way.
    private static func privateCopy(of file: SecureFile, number: Int) throws(PolicyLoadError) -> SecureFile {
        let path = file.path
        let directory = privateDirectory
        guard let directory else {
            throw PolicyLoadError(.io, path: path, "cannot create a private directory for a replaced module file")
        }
        let base = (path as NSString).lastPathComponent
        let copy = "\(directory)/\(number)-\(base)"
        let out = Glibc.open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o500)
        guard out >= 0 else {
            throw PolicyLoadError(.io, path: path, "cannot copy the replaced module file: \(String(cString: strerror(errno)))")
        }
        defer { close(out) }
        let bytes = try file.contents(limit: 1 << 30)
        let written = bytes.withUnsafeBytes { Glibc.write(out, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw PolicyLoadError(.io, path: path, "cannot copy the replaced module file: \(String(cString: strerror(errno)))")
        }
        return try SecureFile(path: copy, what: "module file", reportedAs: path)
    }

    private static let privateDirectory: String? = {
        let template = (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/linkcore-policy-XXXXXX"
        var bytes = Array(template.utf8CString)
        return bytes.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let base = buffer.baseAddress, mkdtemp(base) != nil else { return nil }
            return String(cString: base)
        }
    }()
}

/// Identifies the content of a file well enough to notice it was replaced or rewritten.
struct FileIdentity: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let modifiedSeconds: Int
    let modifiedNanoseconds: Int
    let mode: UInt32

    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
        modifiedSeconds = Int(st.st_mtim.tv_sec)
        modifiedNanoseconds = Int(st.st_mtim.tv_nsec)
        mode = UInt32(st.st_mode)
    }
}

/// A NUL-terminated C buffer's text (the buffer may be full without a terminator).
func text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
