import COpenSSL

/// Heap bytes for key material: written once while the owner is initialised, read-only after,
/// wiped with `OPENSSL_cleanse` and freed when the last reference goes (a Swift array could be
/// copied or freed without being wiped).
///
/// `@unchecked Sendable`: the buffer is never written after `init` returns, so concurrent reads
/// are safe; nothing hands the pointer out beyond a `withUnsafeBytes` call.
public final class SecretBytes: @unchecked Sendable {
    private let base: UnsafeMutableRawPointer
    public let count: Int

    public init(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        self.count = count
        base = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1), alignment: 16)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: Swift.max(count, 1))
        try fill(UnsafeMutableRawBufferPointer(start: base, count: count))   // on throw, deinit wipes
    }

    /// A copy of `bytes`; the caller should wipe its own (`Crypto.wipe`).
    public convenience init(copying bytes: [UInt8]) throws {
        try self.init(count: bytes.count) { out in out.copyBytes(from: bytes) }
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    deinit {
        OPENSSL_cleanse(base, count)
        base.deallocate()
    }
}

/// The few primitives around key material, so no Swift target above needs OpenSSL's names.
public enum Crypto {
    /// Overwrites with zeros in a way the compiler cannot drop.
    public static func wipe(_ pointer: UnsafeMutableRawPointer?, count: Int) {
        OPENSSL_cleanse(pointer, count)
    }

    public static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
    }

    /// Whether `count` bytes at `a` and `b` are equal, in time that does not depend on where they differ.
    public static func constantTimeEquals(_ a: UnsafeRawPointer?, _ b: UnsafeRawPointer?, count: Int) -> Bool {
        CRYPTO_memcmp(a, b, count) == 0
    }

    /// Fills the buffer from OpenSSL's CSPRNG; false if it failed.
    public static func randomBytes(_ out: UnsafeMutableRawBufferPointer) -> Bool {
        guard let p = out.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return out.isEmpty }
        return RAND_bytes(p, Int32(out.count)) == 1
    }
}

public enum CryptoError: Error, Sendable, Equatable, CustomStringConvertible {
    case failed(String)
    public var description: String {
        switch self {
        case .failed(let what): return "\(what) failed"
        }
    }
}
