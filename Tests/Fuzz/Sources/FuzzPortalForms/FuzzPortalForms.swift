import LinkcorePortal
import FuzzSupport

/// The portal's request bodies (HTML forms, the token endpoint's too): up to the first line
/// break, the Authorization header; the rest, the form body (`PortalRequestParsing`).
func fuzz(_ input: [UInt8]) {
    let text = String(decoding: input, as: UTF8.self)
    if let newline = text.firstIndex(of: "\n") {
        _ = PortalRequestParsing.read(authorization: String(text[..<newline]), body: String(text[text.index(after: newline)...]))
    } else {
        _ = PortalRequestParsing.read(authorization: nil, body: text)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(FuzzDriver.bytes(data, size))
    return 0
}

@_cdecl("FuzzPortalForms_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { data, size in fuzzOneInput(data, size) }
}
