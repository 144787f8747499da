import LinkcorePolicy
import FuzzSupport

/// The host's decoding of a policy module's decision: the first byte picks the kind (whitelist,
/// fees, events), the rest is what the module returned (`PolicyDecisionCheck`).
func fuzz(_ input: [UInt8]) {
    guard let first = input.first else { return }
    let kinds = PolicyKind.allCases
    let kind = kinds[Int(first) % kinds.count]
    _ = PolicyDecisionCheck.problem(kind: kind, bytes: Array(input.dropFirst()))
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(FuzzDriver.bytes(data, size))
    return 0
}

@_cdecl("FuzzPolicyDecision_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { data, size in fuzzOneInput(data, size) }
}
