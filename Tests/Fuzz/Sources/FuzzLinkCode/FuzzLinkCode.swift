import LinkcoreLinkCodes
import FuzzSupport

/// The link-code text decoder: the form (`normalise`, `display`) and opening a code under a
/// keyring (`open`, `convert`), as the core and the adapters read codes from organisations.
let keyring: LinkCodeKeyring? = try? LinkCodeKeyring(masterSecret: Array(repeating: 0x5A, count: 32))

func fuzz(_ input: [UInt8]) {
    let text = String(decoding: input, as: UTF8.self)
    if let canonical = LinkCodeFormat.normalise(text) {
        // A canonical code reads back as itself, in every spelling the decoder accepts.
        guard LinkCodeFormat.normalise(canonical) == canonical,
              LinkCodeFormat.normalise(LinkCodeFormat.display(canonical)) == canonical else {
            fatalError("normalise is not idempotent on \(canonical)")
        }
    }
    _ = LinkCodeFormat.display(text)
    guard let keyring else { return }
    _ = keyring.open(text, org: "CITY01")
    _ = keyring.convert(text, from: "CITY01", to: "BANK01", toKeyIndex: KeyIndex(rawValue: 1))
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(FuzzDriver.bytes(data, size))
    return 0
}

@_cdecl("FuzzLinkCode_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { data, size in fuzzOneInput(data, size) }
}
