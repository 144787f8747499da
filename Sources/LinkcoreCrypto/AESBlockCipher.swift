import COpenSSL
import Synchronization

/// A prepared OpenSSL single-block AES context, freed (and its key schedule wiped) on deinit.
///
/// `@unchecked Sendable`: it is ~Copyable (one owner) and its only owner is a `Mutex`, so the
/// pointer is used by one thread at a time.
private struct CipherContext: ~Copyable, @unchecked Sendable {
    let raw: OpaquePointer
    deinit { EVP_CIPHER_CTX_free(raw) }
}

/// One AES key (16 or 32 bytes) prepared for one direction, applied one 16-byte block at a time
/// (ECB, no padding). An `EVP_CIPHER_CTX` is not safe for concurrent use, so it is used under a
/// mutex; the critical section is one `EVP_{En,De}cryptUpdate` of 16 bytes.
public final class AESBlockCipher: Sendable {
    public enum Direction: Sendable { case encrypt, decrypt }

    private let context: Mutex<CipherContext>
    private let direction: Direction

    public init(key: UnsafeRawBufferPointer, _ direction: Direction) throws(CryptoError) {
        guard let bytes = key.baseAddress?.assumingMemoryBound(to: UInt8.self),
              let raw = lc_lc_block_ctx_new(bytes, key.count, direction == .encrypt ? 1 : 0)
        else { throw .failed("AES key schedule") }
        context = Mutex(CipherContext(raw: raw))
        self.direction = direction
    }

    /// Encrypts or decrypts the 16 bytes at `input` into the 16 bytes at `output`; false on failure.
    public func apply(_ input: UnsafePointer<UInt8>, _ output: UnsafeMutablePointer<UInt8>) -> Bool {
        context.withLock { ctx in
            var outLength: Int32 = 0
            let ok = direction == .encrypt
                ? EVP_EncryptUpdate(ctx.raw, output, &outLength, input, 16)
                : EVP_DecryptUpdate(ctx.raw, output, &outLength, input, 16)
            return ok == 1 && outLength == 16
        }
    }
}
