import LinkcoreRegistry
import FuzzSupport

/// `registry import` rows: the CSV reader, the header, every row's checks and the normalisation
/// an insert does, without a database (`CSVImporter.check`).
func fuzz(_ input: [UInt8]) {
    let summary = CSVImporter.check(String(decoding: input, as: UTF8.self))
    _ = summary.accepted + summary.rejected
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(FuzzDriver.bytes(data, size))
    return 0
}

@_cdecl("FuzzRegistryCSV_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { data, size in fuzzOneInput(data, size) }
}
