import LinkcoreCrypto

/// One (organisation, key index) key: prepared AES encrypt and decrypt contexts and the 8-byte
/// redundancy value that fills the second half of every plaintext block.
final class BlockKey: Sendable {
    private let encryptor: AESBlockCipher
    private let decryptor: AESBlockCipher
    private let redundancy: SecretBytes

    /// `key` is 16 or 32 bytes (AES-128 / AES-256); `redundancy` is 8 bytes.
    init(key: UnsafeRawBufferPointer, redundancy: SecretBytes) throws {
        guard redundancy.count == 8 else { throw LinkCodeError.cryptoFailure }
        do {
            encryptor = try AESBlockCipher(key: key, .encrypt)
            decryptor = try AESBlockCipher(key: key, .decrypt)
        } catch {
            throw LinkCodeError.cryptoFailure
        }
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
            let ok = encryptor.apply(plain, cipher)
            Crypto.wipe(base, count: 16)
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
            let ok = decryptor.apply(cipher, plain)
            let same = redundancy.withUnsafeBytes { r in Crypto.constantTimeEquals(base + 8, r.baseAddress, count: 8) }
            let id = UInt64(bigEndian: base.load(as: UInt64.self))
            Crypto.wipe(base, count: 16)
            return ok && same ? id : nil
        }
    }
}
