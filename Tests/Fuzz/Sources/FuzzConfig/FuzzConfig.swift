import LinkcoreConfig
import FuzzSupport

/// The TOML parser, then every configuration loader on the same text (daemon, adapter, matcher,
/// portal; the card authority's settings are the `[card]` tables of the last three, and
/// `linkcore-jpki serve` takes options, not a file). Loaders get a fixed environment and never
/// read the files a configuration names, so a run touches nothing.
let environment = ["LINKCORE_FUZZ_SECRET": "fuzz-secret-value", "HOME": "/nonexistent"]
let file = "/etc/linkcore/fuzz.toml"

func fuzz(_ input: [UInt8]) {
    _ = try? TOMLParser().parse(bytes: input, file: file)
    let text = String(decoding: input, as: UTF8.self)
    _ = try? DaemonConfig.parse(text: text, file: file, environment: environment, hostname: "fuzz")
    _ = try? AdapterConfig.parse(text: text, file: file, environment: environment)
    _ = try? MatcherConfig.parse(text: text, file: file, environment: environment)
    _ = try? PortalConfig.parse(text: text, file: file, environment: environment)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzz(FuzzDriver.bytes(data, size))
    return 0
}

@_cdecl("FuzzConfig_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { data, size in fuzzOneInput(data, size) }
}
