import LinkcoreCrypto
import Synchronization

/// The link-code keys of one core and the operations on link codes (see `docs/link-codes.md`).
///
/// A link code is AES-256(K_org,idx, ID code ‖ R_org,idx) written in base32 after the key index,
/// with a check character. K and R come from HKDF-SHA256 over the master secret, the
/// organisation code and the key index. Opening a code decrypts it and compares the redundancy
/// R in constant time before anyone looks the ID code up; a forged, mistyped, foreign or
/// malformed code gives nil, the same answer on the same cost path.
///
/// Thread-safe. Derived keys are cached (at most `maximumCachedKeys`, then the cache starts again), so
/// only the first use of an (organisation, key index) pays for HKDF and the AES key schedule.
/// Nothing here logs; no description includes key material or ID codes.
public final class LinkCodeKeyring: Sendable {
    /// Shortest master secret accepted, in bytes.
    public static let minimumMasterSecretLength = 32
    /// Longest organisation code, in bytes (printable ASCII, no spaces).
    public static let maximumOrganisationLength = 64
    /// Cached (organisation, key index) keys; one more empties the cache (see `KeyCache`).
    public static let maximumCachedKeys = 4096

    /// HKDF-Extract salt: a fixed protocol label.
    static let salt: [UInt8] = Array("linkcore/link-code/hkdf-salt/v1".utf8)
    /// HKDF-Expand info prefix; followed by 0x00, len(org), org, key index (big-endian u16).
    static let infoLabel: [UInt8] = Array("linkcore link-code v1".utf8)
    /// AES-256 key (32 bytes) then redundancy (8 bytes).
    static let derivedLength = 40

    private let prk: SecretBytes
    private let cache: Mutex<KeyCache<BlockKey>>
    /// A random key for refusals that never reach a real key (malformed code or organisation),
    /// so that they do the same decryption and comparison as a real attempt.
    private let decoy: BlockKey

    /// Makes a keyring from the master secret (≥ 32 bytes of uniformly random key material).
    /// Only HKDF-Extract's output (32 bytes) is kept; the caller should wipe its own copy.
    /// - Throws: `LinkCodeError.masterSecretTooShort`, `LinkCodeError.cryptoFailure`.
    public init(masterSecret: [UInt8]) throws {
        guard masterSecret.count >= Self.minimumMasterSecretLength else {
            throw LinkCodeError.masterSecretTooShort
        }
        prk = try SecretBytes(count: 32) { out in
            do { try HKDFSHA256.extract(salt: Self.salt, ikm: masterSecret, into: out) } catch { throw LinkCodeError.cryptoFailure }
        }
        let decoyKey = try SecretBytes(count: Self.derivedLength) { out in
            guard Crypto.randomBytes(out) else { throw LinkCodeError.cryptoFailure }
        }
        decoy = try Self.blockKey(from: decoyKey)
        var seed: UInt64 = 0
        guard withUnsafeMutableBytes(of: &seed, { Crypto.randomBytes($0) }) else { throw LinkCodeError.cryptoFailure }
        cache = Mutex(KeyCache(limit: Self.maximumCachedKeys, seed: seed))
    }

    /// The text form of `id`'s link code for `org` under `keyIndex` (canonical: 29 characters,
    /// upper case, no separators; see `LinkCodeFormat.display` for people). Deterministic.
    /// - Throws: `LinkCodeError.invalidOrganisation`, `.keyIndexOutOfRange`, `.cryptoFailure`.
    public func issue(_ id: IDCode, org: String, keyIndex: KeyIndex) throws -> String {
        guard keyIndex.isValid else { throw LinkCodeError.keyIndexOutOfRange }
        guard let key = try key(org: org, index: keyIndex.rawValue) else {
            throw LinkCodeError.invalidOrganisation
        }
        guard let block = key.seal(id.rawValue) else { throw LinkCodeError.cryptoFailure }
        return LinkCodeFormat.encode(index: keyIndex.rawValue, block: block)
    }

    /// The ID code and key index inside `code` if it is `org`'s link code, else nil — whether the
    /// code is malformed, mistyped, forged or another organisation's. Accepts any spelling that
    /// `LinkCodeFormat.normalise` accepts. A non-nil answer still has to be checked against the
    /// ID table (is this link live?) before it is trusted.
    public func open(_ code: String, org: String) -> (IDCode, KeyIndex)? {
        let fields = LinkCodeFormat.decode(code)
        var key: BlockKey?
        if let fields, let found = try? self.key(org: org, index: fields.index) {
            key = found
        }
        // Every refusal runs one AES decryption and one constant-time comparison.
        guard let fields, let key else {
            _ = decoy.unseal(fields?.block ?? 0)
            return nil
        }
        guard let id = key.unseal(fields.block) else { return nil }
        return (IDCode(rawValue: id), KeyIndex(rawValue: fields.index))
    }

    /// Opens `code` as `from`'s and issues the same resident's code for `to` under `toKeyIndex`.
    /// A convenience for tests and tools: the core's conversion must also check the ID table
    /// between the two steps (is `code` a live link of `from`, has `to` a live link).
    public func convert(_ code: String, from: String, to: String, toKeyIndex: KeyIndex) -> String? {
        guard let (id, _) = open(code, org: from) else { return nil }
        return try? issue(id, org: to, keyIndex: toKeyIndex)
    }

    /// Whether `org` can name an organisation here: 1...64 bytes of printable ASCII without
    /// spaces. (ASCII only, so that String equality and byte equality agree.)
    public static func isValidOrganisation(_ org: String) -> Bool {
        let utf8 = org.utf8
        guard (1...maximumOrganisationLength).contains(utf8.count) else { return false }
        return utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }

    // MARK: - Keys

    /// The cached or newly derived key; nil when `org` is not a valid organisation code (only
    /// valid codes enter the cache, so a hit needs no validation).
    private func key(org: String, index: UInt16) throws -> BlockKey? {
        if let cached = cache.withLock({ $0.value(org: org, index: index) }) { return cached }
        guard Self.isValidOrganisation(org) else { return nil }
        let derived = try deriveKey(org: org, index: index)
        return cache.withLock { $0.insert(derived, org: org, index: index) }
    }

    /// HKDF-Expand(PRK, "linkcore link-code v1" ‖ 0x00 ‖ len(org) ‖ org ‖ index_be16, 40).
    static func info(org: String, index: UInt16) -> [UInt8] {
        var info = infoLabel
        info.reserveCapacity(infoLabel.count + 4 + org.utf8.count)
        info.append(0)
        info.append(UInt8(truncatingIfNeeded: org.utf8.count))
        info.append(contentsOf: org.utf8)
        info.append(UInt8(truncatingIfNeeded: index >> 8))
        info.append(UInt8(truncatingIfNeeded: index))
        return info
    }

    private func deriveKey(org: String, index: UInt16) throws -> BlockKey {
        let info = Self.info(org: org, index: index)
        let okm = try SecretBytes(count: Self.derivedLength) { out in
            do { try prk.withUnsafeBytes { prk in try HKDFSHA256.expand(prk: prk, info: info, into: out) } } catch {
                throw LinkCodeError.cryptoFailure
            }
        }
        return try Self.blockKey(from: okm)
    }

    /// Splits 40 derived bytes into the AES-256 key and the redundancy.
    private static func blockKey(from okm: SecretBytes) throws -> BlockKey {
        try okm.withUnsafeBytes { bytes in
            let redundancy = try SecretBytes(count: 8) { out in
                out.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[32..<40]))
            }
            return try BlockKey(key: UnsafeRawBufferPointer(rebasing: bytes[0..<32]), redundancy: redundancy)
        }
    }
}
