import LinkcoreAdapter
import FuzzSupport

/// The adapter's JSON request bodies: the first byte picks the operation, the rest is the body
/// (`AdapterRequestBodies`: the generated types' decoding, then the adapter's checks before I/O).
func fuzz(_ input: [UInt8]) {
    guard let first = input.first else { return }
    let bodies = AdapterRequestBodies.Body.allCases
    _ = AdapterRequestBodies.problem(bodies[Int(first) % bodies.count], json: Array(input.dropFirst()))
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(FuzzDriver.bytes(data, size))
    return 0
}

@_cdecl("FuzzAdapterJSON_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { data, size in fuzzOneInput(data, size) }
}
