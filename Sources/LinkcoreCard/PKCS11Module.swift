import CPKCS11

/// A PKCS#11 module loaded with dlopen() and initialised (C_Initialize) for this process.
///
/// PKCS#11 modules are process-wide (C_Initialize once, C_Finalize once): the C shim counts the
/// `PKCS11Module` values on one module and finalises it with the last. SoftHSM2 reads `SOFTHSM2_CONF` at
/// C_Initialize: that is why tests drive the card through `linkcore-card` child processes, each
/// with its own configuration in the child's environment, never through setenv in the test process.
///
/// `@unchecked Sendable`: the module is initialised with CKF_OS_LOCKING_OK, so the module itself
/// serialises concurrent calls; this class holds no mutable Swift state.
public final class PKCS11Module: @unchecked Sendable {
    /// SoftHSM2's module on Debian; OpenSC's is /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so.
    public static let softHSM2Path = "/usr/lib/softhsm/libsofthsm2.so"

    let raw: OpaquePointer
    public let path: String

    public init(path: String = PKCS11Module.softHSM2Path) throws(CardError) {
        var message = [CChar](repeating: 0, count: 512)
        guard let loaded = lc_p11_load(path, &message, message.count) else {
            throw CardError.moduleLoad(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        raw = loaded
        self.path = path
    }

    deinit { lc_p11_unload(raw) }

    /// The slot holding the token labelled `label`.
    func slot(label: String) throws(CardError) -> UInt {
        var slot: UInt = 0
        let rv = lc_p11_find_token(raw, label, &slot)
        if rv == LC_P11_TOKEN_NOT_FOUND { throw CardError.tokenNotFound(label) }
        try check(rv, "C_GetSlotList")
        return slot
    }

    func tokenInfo(slot: UInt) throws(CardError) -> lc_p11_token_info {
        var info = lc_p11_token_info()
        try check(lc_p11_token_info_get(raw, slot, &info), "C_GetTokenInfo")
        return info
    }
}

/// Turns a CK_RV into a typed error. PIN results are mapped by the caller, which knows which
/// application the PIN belongs to; here they surface as `.pkcs11`.
func check(_ rv: UInt, _ function: String) throws(CardError) {
    guard rv == LC_CKR_OK else { throw CardError.pkcs11(function: function, code: rv) }
}

/// Reads a C fixed-size char tuple field (imported as a tuple) as a String.
func string<T>(fromCTuple tuple: T) -> String {
    withUnsafeBytes(of: tuple) { bytes in
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}
