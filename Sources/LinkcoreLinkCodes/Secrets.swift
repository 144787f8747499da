import COpenSSL
import Synchronization

/// Heap bytes for key material: written once while the owner is initialised, read-only after,
/// wiped with `OPENSSL_cleanse` and freed when the last reference goes.
///
/// `@unchecked Sendable`: the buffer is never written after `init` returns, so concurrent reads
/// are safe; nothing hands the pointer out beyond a `withUnsafeBytes` call.
final class SecretBytes: @unchecked Sendable {
    private let base: UnsafeMutableRawPointer
    let count: Int

    init(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        self.count = count
        base = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1), alignment: 16)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: Swift.max(count, 1))
        try fill(UnsafeMutableRawBufferPointer(start: base, count: count))   // on throw, deinit wipes
    }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    deinit {
        OPENSSL_cleanse(base, count)
        base.deallocate()
    }
}

/// A prepared OpenSSL single-block AES context, freed (and its key schedule wiped) on deinit.
///
/// `@unchecked Sendable`: it is ~Copyable (one owner) and its only owner is a `Mutex`, so the
/// pointer is used by one thread at a time.
struct CipherContext: ~Copyable, @unchecked Sendable {
    let raw: OpaquePointer
    deinit { EVP_CIPHER_CTX_free(raw) }
}

/// One (organisation, key index) key: prepared AES encrypt and decrypt contexts and the 8-byte
/// redundancy value that fills the second half of every plaintext block.
///
/// An `EVP_CIPHER_CTX` is not safe for concurrent use, so each is used under its own mutex; the
/// critical section is one `EVP_{En,De}cryptUpdate` of 16 bytes.
final class BlockKey: Sendable {
    private let encryptor: Mutex<CipherContext>
    private let decryptor: Mutex<CipherContext>
    private let redundancy: SecretBytes

    /// `key` is 16 or 32 bytes (AES-128 / AES-256); `redundancy` is 8 bytes.
    init(key: UnsafeRawBufferPointer, redundancy: SecretBytes) throws {
        guard redundancy.count == 8,
              let bytes = key.baseAddress?.assumingMemoryBound(to: UInt8.self),
              let enc = lc_lc_block_ctx_new(bytes, key.count, 1)
        else { throw LinkCodeError.cryptoFailure }
        let encContext = CipherContext(raw: enc)
        guard let dec = lc_lc_block_ctx_new(bytes, key.count, 0) else { throw LinkCodeError.cryptoFailure }
        encryptor = Mutex(encContext)
        decryptor = Mutex(CipherContext(raw: dec))
        self.redundancy = redundancy
    }

    /// The ciphertext block AES_K(id ‖ redundancy), big-endian, or nil if OpenSSL fails.
    func seal(_ id: UInt64) -> UInt128? {
        withUnsafeTemporaryAllocation(byteCount: 32, alignment: 16) { buffer -> UInt128? in
            guard let base = buffer.baseAddress else { return nil }
            let plain = base.assumingMemoryBound(to: UInt8.self)
            let cipher = plain + 16
            base.storeBytes(of: id.bigEndian, as: UInt64.self)
            redundancy.withUnsafeBytes { r in
                if let src = r.baseAddress { (base + 8).copyMemory(from: src, byteCount: 8) }
            }
            let ok = encryptor.withLock { ctx -> Bool in
                var outLength: Int32 = 0
                return EVP_EncryptUpdate(ctx.raw, cipher, &outLength, plain, 16) == 1 && outLength == 16
            }
            OPENSSL_cleanse(base, 16)
            guard ok else { return nil }
            return UInt128(bigEndian: (base + 16).load(as: UInt128.self))
        }
    }

    /// The ID code inside `block` if its second half equals this key's redundancy, else nil.
    /// Decryption and the constant-time comparison run whatever the block holds.
    func unseal(_ block: UInt128) -> UInt64? {
        withUnsafeTemporaryAllocation(byteCount: 32, alignment: 16) { buffer -> UInt64? in
            guard let base = buffer.baseAddress else { return nil }
            let plain = base.assumingMemoryBound(to: UInt8.self)
            let cipher = plain + 16
            (base + 16).storeBytes(of: block.bigEndian, as: UInt128.self)
            let ok = decryptor.withLock { ctx -> Bool in
                var outLength: Int32 = 0
                return EVP_DecryptUpdate(ctx.raw, plain, &outLength, cipher, 16) == 1 && outLength == 16
            }
            let differs = redundancy.withUnsafeBytes { r in CRYPTO_memcmp(base + 8, r.baseAddress, 8) }
            let id = UInt64(bigEndian: base.load(as: UInt64.self))
            OPENSSL_cleanse(base, 16)
            return ok && differs == 0 ? id : nil
        }
    }
}
